"""Every command in the docs runs (against a live `jobqueue dev`) or is checked statically.

`scripts/doccheck.py` does the work; here each page is one test, sharing one dev stack, and
the checker itself is tested on pages made to fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.doctools.runner import Checker, checker, default_pages
from tests.docs.repo import REPO

PAGES = default_pages(REPO)
# Pages whose examples must run for real, not only pass the static checks.
RUNNING = {"README.md", "docs/brokers/embedded.md", "docs/operations.md", "docs/deployment.md",
           "docs/migrating-from-go.md", "docs/plugin-authoring.md"}  # fmt: skip


@pytest.fixture(scope="module")
def doc_checker() -> Iterator[Checker]:
    with checker(REPO) as instance:
        yield instance


def test_every_docs_page_is_checked() -> None:
    """The default page list covers the README and every page under docs/."""
    assert REPO / "README.md" in PAGES
    assert set((REPO / "docs").rglob("*.md")) <= set(PAGES)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_page_commands(doc_checker: Checker, page: Path) -> None:
    """Each shell block of the page runs with exit status 0, or passes the static checks."""
    outcomes = doc_checker.check_page(page)
    failures = [
        f"{o.block.where(REPO)}: {'; '.join(o.problems)}\n{o.output[-3000:]}"
        for o in outcomes
        if o.problems
    ]
    assert failures == [], "\n".join(failures)
    if page.relative_to(REPO).as_posix() in RUNNING:
        assert any(o.action == "ran" for o in outcomes), "no block of this page ran"


def _page(tmp_path: Path, text: str) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    page = docs / "page.md"
    page.write_text(text)
    return page


def test_checker_reports_a_failing_command(tmp_path: Path, doc_checker: Checker) -> None:
    """A run block whose command fails (here an HTTP 404) is reported with its output."""
    fake = Checker(tmp_path, doc_checker.scratch)
    fake.stack = doc_checker.stack  # type: ignore[method-assign]  # share the running stack
    page = _page(
        tmp_path,
        "<!-- doccheck: run -->\n```sh\ncurl -s http://127.0.0.1:4000/api/v1/job/no-such-job/\n```\n",
    )
    (outcome,) = fake.check_page(page)
    assert outcome.problems == ["exited with status 22"]
    assert "no-such-job" in outcome.output


def test_checker_reports_unknown_options_and_missing_markers(tmp_path: Path) -> None:
    """A static block with a bad flag, a missing file, and an unmarked block all fail."""
    for name in ("examples", "scripts", "deploy", "docs", "plugins"):
        (tmp_path / name).mkdir(exist_ok=True)
    page = _page(
        tmp_path,
        "<!-- doccheck: static no server here -->\n```sh\njobqueue dispatcher --bogus 1\n"
        "kubectl apply -k deploy/missing\n```\n\n```sh\necho unmarked\n```\n",
    )
    outcomes = Checker(tmp_path, tmp_path / "scratch").check_page(page)
    assert [len(o.problems) for o in outcomes] == [2, 1]
    assert "No such option '--bogus'" in outcomes[0].problems[0]
    assert "deploy/missing does not exist" in outcomes[0].problems[1]
    assert "without a" in outcomes[1].problems[0]
