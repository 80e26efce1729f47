"""A campaign's Markdown body as the plain-text part of the mail: what a reader sees in a
text-only client, so it reads well there.

- Paragraphs and list items wrap near 72 characters (a long address stays whole).
- Emphasis marks disappear; `code` keeps its text; headings get a rule under them.
- Tables become aligned columns (numbers to the right); a table too wide for 72
  characters becomes one "Heading: value" block per row instead.
- Links: the text keeps its place with a number, `Klik her [1]`, and the addresses are
  listed at the end; a bare address stays where it is.
"""

from __future__ import annotations

import re
import textwrap

from markdown_it import MarkdownIt
from markdown_it.token import Token

WIDTH = 72
_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_NUMBER = re.compile(r"^[−+-]?[\d.,]+\s*(%|pct\.?)?$")


def to_text(markdown: str, *, links_heading: str = "Links") -> str:
    tokens = _MD.parse(markdown or "")
    links: list[str] = []
    blocks = _blocks(tokens, links)
    text = "\n\n".join(b for b in blocks if b.strip())
    if links:
        text += f"\n\n{links_heading}:\n" + "\n".join(f"[{n}] {url}" for n, url in enumerate(links, 1))
    return text.strip() + "\n" if text.strip() else ""


def _inline(token: Token, links: list[str]) -> str:
    out: list[str] = []
    href_stack: list[tuple[str, int]] = []
    for child in token.children or []:
        t = child.type
        if t in ("text", "code_inline"):
            out.append(child.content)
        elif t == "softbreak":
            out.append(" ")
        elif t == "hardbreak":
            out.append("\n")
        elif t == "image":
            out.append(child.content or "")
        elif t == "link_open":
            href_stack.append((str(child.attrGet("href") or ""), len("".join(out))))
        elif t == "link_close" and href_stack:
            href, start = href_stack.pop()
            label = "".join(out)[start:]
            if href and label.strip() != href and href.removeprefix("mailto:") != label.strip():
                if href not in links:
                    links.append(href)
                out.append(f" [{links.index(href) + 1}]")
    return "".join(out)


def _wrap(text: str, first: str = "", rest: str = "") -> str:
    lines = []
    for part in text.split("\n"):
        lines.append(textwrap.fill(part, WIDTH, initial_indent=first, subsequent_indent=rest,
                                   break_long_words=False, break_on_hyphens=False) or first.rstrip())
        first = rest
    return "\n".join(lines)


def _blocks(tokens: list[Token], links: list[str]) -> list[str]:
    blocks: list[str] = []
    i = 0
    lists: list[list] = []  # [ordered, counter] per open list
    prefix_quote = 0
    while i < len(tokens):
        tok = tokens[i]
        t = tok.type
        if t == "heading_open":
            text = _inline(tokens[i + 1], links)
            rule = "=" if tok.tag in ("h1", "h2") else "-"
            blocks.append(f"{text}\n{rule * min(len(text), WIDTH)}")
            i += 3
            continue
        if t in ("bullet_list_open", "ordered_list_open"):
            lists.append([t == "ordered_list_open", int(tok.attrGet("start") or 1)])
        elif t in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif t == "blockquote_open":
            prefix_quote += 1
        elif t == "blockquote_close":
            prefix_quote -= 1
        elif t == "inline" and tokens[i - 1].type == "paragraph_open":
            text = _inline(tok, links)
            quote = "> " * prefix_quote
            if lists and tokens[i - 2].type == "list_item_open":
                ordered, n = lists[-1]
                bullet = f"{n}. " if ordered else "* "
                lists[-1][1] += 1
                pad = "  " * (len(lists) - 1)
                blocks.append(_wrap(text, quote + pad + bullet, quote + pad + " " * len(bullet)))
            elif lists:
                pad = "  " * len(lists)
                blocks.append(_wrap(text, quote + pad, quote + pad))
            else:
                blocks.append(_wrap(text, quote, quote))
        elif t in ("fence", "code_block"):
            blocks.append("\n".join("    " + line for line in tok.content.rstrip("\n").split("\n")))
        elif t == "hr":
            blocks.append("-" * 20)
        elif t == "table_open":
            j = i
            while tokens[j].type != "table_close":
                j += 1
            blocks.append(_table(tokens[i:j], links))
            i = j
        i += 1
    return _join_lists(blocks)


def _join_lists(blocks: list[str]) -> list[str]:
    """List items follow each other without a blank line between them."""
    out: list[str] = []
    for b in blocks:
        if out and re.match(r"^\s*(\* |\d+\. )", b) and re.match(r"^\s*(\* |\d+\. )", out[-1].split("\n")[0]):
            out[-1] += "\n" + b
        else:
            out.append(b)
    return out


def _table(tokens: list[Token], links: list[str]) -> str:
    rows: list[list[str]] = []
    aligns: list[str] = []
    header_rows = 0
    in_head = False
    for tok in tokens:
        if tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open":
            rows.append([])
            header_rows += in_head
        elif tok.type in ("th_open", "td_open"):
            style = str(tok.attrGet("style") or "")
            if len(rows) == 1:
                aligns.append("right" if "right" in style else "center" if "center" in style else "")
        elif tok.type == "inline" and rows:
            rows[-1].append(" ".join(_inline(tok, links).split()))
    if not rows:
        return ""
    cols = max(len(r) for r in rows)
    rows = [r + [""] * (cols - len(r)) for r in rows]
    aligns += [""] * (cols - len(aligns))
    body = rows[header_rows:]
    right = [a == "right" or (not a and body and all(_NUMBER.match(r[c]) or not r[c] for r in body)
                              and any(r[c] for r in body)) for c, a in enumerate(aligns)]
    widths = [max(len(r[c]) for r in rows) for c in range(cols)]
    if sum(widths) + 2 * (cols - 1) > WIDTH and header_rows:
        head = rows[0]
        return "\n\n".join("\n".join(_wrap(f"{head[c]}: {r[c]}", "", "  ") for c in range(cols) if r[c]) for r in body)

    def line(r: list[str]) -> str:
        return "  ".join(cell.rjust(widths[c]) if right[c] else cell.ljust(widths[c]) for c, cell in enumerate(r)).rstrip()

    out = [line(r) for r in rows[:header_rows]]
    if header_rows:
        out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in body]
    return "\n".join(out)
