"""What one poll did (returned by `poll_source`, printed by `budbringer source poll`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PollReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error: str | None = None
    linked: int = 0  # already carried by another source (same canonical link)
    not_modified: bool = False  # 304, or StatBank's `updated` did not move
    moved_to: str | None = None  # a permanent redirect moved the source here
    item_ids: list[int] = field(default_factory=list)

    def count(self, saved) -> None:
        if saved.outcome == "new":
            self.new += 1
        elif saved.outcome == "updated":
            self.updated += 1
        elif saved.outcome == "linked":
            self.linked += 1
        else:
            self.unchanged += 1
        if saved.outcome != "unchanged":
            self.item_ids.append(saved.item_id)

    def summary(self) -> str:
        if self.error:
            return f"error: {self.error}"
        if self.not_modified:
            return "nothing changed"
        text = f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged"
        return text + (f", {self.linked} already known from another source" if self.linked else "")
