"""docs/reliability.md names the tests that prove each promise: the names must stay true."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "reliability.md"
_REFERENCE = re.compile(r"`((?:tests|plugins|core)/[\w/.-]+\.py)::(\w+)`")


def references() -> list[tuple[str, str]]:
    return _REFERENCE.findall(PAGE.read_text())


def test_every_test_the_page_names_exists() -> None:
    """Each `path::name` on the page is a file defining a function (or method) of that name."""
    found = references()
    assert len(found) >= 30, found
    missing = [
        f"{path}::{name}"
        for path, name in found
        if not (REPO / path).is_file()
        or not re.search(rf"^\s*def {name}\(", (REPO / path).read_text(), re.MULTILINE)
    ]
    assert missing == []


def test_every_reliability_test_is_on_the_page() -> None:
    """A test added to tests/reliability/ is cited next to the promise it proves."""
    cited = set(references())
    uncited = [
        f"{path.relative_to(REPO)}::{name}"
        for path in sorted((REPO / "tests" / "reliability").glob("test_*.py"))
        if path.name != Path(__file__).name
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(), re.MULTILINE)
        if (str(path.relative_to(REPO)), name) not in cited
    ]
    assert uncited == []
