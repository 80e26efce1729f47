"""The import graph of service/ and subscribers/ against the layers in docs/architecture.md.

Pure: the source is parsed with `ast`, nothing is imported or run. The layer table is the
```layers block of docs/architecture.md, so the document and the code say the same.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("service", "subscribers")
DOC = ROOT / "docs" / "architecture.md"


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    runs: bool  # False under `if TYPE_CHECKING:` (never executed)


def layer_table(doc: str) -> list[tuple[str, list[str]]]:
    """[(layer, prefixes)] from the ```layers block, top layer first."""
    block = re.search(r"```layers\n(.*?)```", doc, re.S)
    assert block, "docs/architecture.md has no ```layers block"
    table = []
    for line in block.group(1).strip().splitlines():
        name, _, prefixes = line.partition(":")
        table.append((name.strip(), [p.strip() for p in prefixes.split(",") if p.strip()]))
    return table


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(name: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """Every import of a module in `known`, resolved to the module it loads."""
    found: list[Import] = []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    def visit(node: ast.AST, runs: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for stmt in child.body:
                    visit_stmt(stmt, False)
                for stmt in child.orelse:
                    visit_stmt(stmt, runs)
                continue
            visit_stmt(child, runs)

    def visit_stmt(node: ast.AST, runs: bool) -> None:
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` loads a.b when it is a module, else takes a name from a.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            module = resolve(target)
            if module is not None and module != name:
                found.append(Import(name, module, node.lineno, runs))
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            visit(node, runs)

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return found


def layer_of(module: str, table: list[tuple[str, list[str]]]) -> int | None:
    """Index into the table (0 = top); the longest matching prefix wins ("=name": that module only)."""
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(table):
        for prefix in prefixes:
            exact = prefix.startswith("=")
            name = prefix.removeprefix("=")
            hit = module == name or (not exact and module.startswith(name + "."))
            if hit and (best is None or len(name) > best[1]):
                best = (index, len(name))
    return None if best is None else best[0]


def upward(edges: list[Import], table) -> list[str]:
    problems = []
    for e in edges:
        here, there = layer_of(e.source, table), layer_of(e.target, table)
        if here is not None and there is not None and there < here:
            problems.append(f"{e.source} ({table[here][0]}) imports {e.target} ({table[there][0]}), line {e.line}")
    return sorted(set(problems))


def cycles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected groups of two or more modules among the imports that run (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if e.runs:
            graph.setdefault(e.source, set()).add(e.target)
            graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return groups


def graph(root: Path = ROOT) -> tuple[dict[str, Path], list[Import]]:
    known = modules(root)
    return known, [e for name, path in sorted(known.items()) for e in imports(name, path, known)]


TABLE = layer_table(DOC.read_text(encoding="utf-8"))


def test_the_layer_table_names_the_five_layers_top_down():
    assert [name for name, _ in TABLE] == ["entry points", "use cases", "output", "storage", "base"]


def test_every_module_belongs_to_a_layer():
    known, _ = graph()
    assert len(known) > 100  # the walk found the packages
    assert [m for m in sorted(known) if layer_of(m, TABLE) is None] == []


def test_no_module_imports_from_a_layer_above_its_own():
    _, edges = graph()
    assert upward(edges, TABLE) == []


def test_no_import_cycle():
    _, edges = graph()
    assert cycles(edges) == []


# The checker itself, on a small made-up tree: an upward import and a cycle are caught.


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_the_checker_catches_an_upward_import_and_a_cycle(tmp_path):
    root = _tree(tmp_path, {
        "service/__init__.py": "",
        "service/web/__init__.py": "from service.db import models\n",
        "service/db/__init__.py": "",
        "service/db/models.py": "def f():\n    from service.web import handler\n",
        "service/web/handler.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import service.db.models\n",
        "subscribers/__init__.py": "",
    })
    table = [("entry points", ["service.web"]), ("storage", ["service.db"]), ("base", ["=service", "subscribers"])]
    known, edges = graph(root)
    assert layer_of("service.unplaced", table) is None  # "=service" places the package alone
    assert upward(edges, table) == ["service.db.models (storage) imports service.web.handler (entry points), line 2"]
    # models → handler runs (inside a function); handler → models only under TYPE_CHECKING: no cycle ...
    assert cycles(edges) == []
    (root / "service/web/handler.py").write_text("import service.db.models\n", encoding="utf-8")
    _, edges = graph(root)
    assert cycles(edges) == [["service.db.models", "service.web.handler"]]  # ... until it runs both ways
