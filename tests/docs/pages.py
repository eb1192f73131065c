"""The fenced blocks of a documentation page, each with the marker comment right above it
(``<!-- not run -->``, ``<!-- file: name -->``...), as the page tests read them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\S*)\s*$")
MARKER = re.compile(r"^<!--\s*([a-z ]+?)\s*(?::\s*(.*?))?\s*-->$")


@dataclass(frozen=True)
class Block:
    line: int
    heading: str
    language: str
    text: str
    marker: str | None = None
    argument: str | None = None
    page: str = "docs/embedding.md"

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line} ({self.heading})"


def read_blocks(page: Path) -> list[Block]:
    """The fenced blocks of the page, each with the marker comment right above it."""
    blocks: list[Block] = []
    lines = page.read_text().splitlines()
    heading, index = "top", 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        opened = FENCE.match(line)
        if opened is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        above = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marked = MARKER.match(above.strip())
        blocks.append(
            Block(
                line=index + 1,
                heading=heading,
                language=opened.group(1),
                text="\n".join(lines[index + 1 : end]) + "\n",
                marker=marked.group(1) if marked else None,
                argument=marked.group(2) if marked else None,
                page=str(page.resolve().relative_to(ROOT)),
            )
        )
        index = end + 1
    return blocks
