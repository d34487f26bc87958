"""Fenced code blocks of a Markdown page, with the ``doccheck`` marker written above each.

A marker is an HTML comment on the line right above the fence, invisible once rendered::

    <!-- doccheck: run -->
    ```sh
    curl -s http://127.0.0.1:4000/health
    ```

Modes: ``run`` (execute against a live ``jobqueue dev``), ``static <reason>`` (cannot run
here; checked without running), ``file <name>`` (write the block to a scratch file that later
blocks use), ``excerpt <repo path>`` (the block is copied verbatim from that file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console"})
MODES = frozenset({"run", "static", "file", "excerpt"})
_MARKER = re.compile(r"^<!--\s*doccheck:\s*(\w+)\s*(.*?)\s*-->$")
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    mode: str | None  # None: no marker
    argument: str  # the reason, file name or path after the mode

    @property
    def is_shell(self) -> bool:
        return self.language in SHELL_LANGUAGES

    def where(self, root: Path) -> str:
        try:
            name = self.page.relative_to(root)
        except ValueError:
            name = self.page
        return f"{name}:{self.line}"


class MarkerError(ValueError):
    pass


def read_blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page`` in order; raises `MarkerError` on an unknown mode."""
    lines = page.read_text().splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        indent, ticks, language = fence.groups()
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(ticks):
            body.append(
                lines[index][len(indent) :] if lines[index].startswith(indent) else lines[index]
            )
            index += 1
        index += 1
        mode, argument = _marker(lines, start, page)
        text = "\n".join(body) + "\n"
        blocks.append(Block(page, start + 1, language.lower(), text, mode, argument))
    return blocks


def _marker(lines: list[str], fence_index: int, page: Path) -> tuple[str | None, str]:
    if fence_index == 0:
        return None, ""
    match = _MARKER.match(lines[fence_index - 1].strip())
    if not match:
        return None, ""
    mode, argument = match.groups()
    if mode not in MODES:
        raise MarkerError(f"{page}:{fence_index}: unknown doccheck mode {mode!r}")
    if mode != "run" and not argument:
        raise MarkerError(f"{page}:{fence_index}: `doccheck: {mode}` needs an argument")
    return mode, argument
