"""The generated references are current and complete: every route, option and env var."""

from __future__ import annotations

import re
import subprocess
import sys

import click

from jobqueue.cli import main
from scripts.doctools.apiref import fetch_documents
from scripts.doctools.configref import walk
from tests.docs.repo import REPO

API = REPO / "docs" / "api.md"
CONFIGURATION = REPO / "docs" / "configuration.md"
SOURCES = ["core", "services", "examples"] + [
    str(p.relative_to(REPO)) for p in (REPO / "plugins").glob("*/jobqueue_*")
]


def test_generated_pages_are_current() -> None:
    """`scripts/docgen.py --check` passes: docs/api.md and docs/configuration.md are fresh."""
    result = subprocess.run(
        [sys.executable, "scripts/docgen.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_api_reference_has_every_route_of_both_services() -> None:
    """Each method and path of both OpenAPI documents has its section in docs/api.md."""
    text = API.read_text()
    for service, document in fetch_documents().items():
        for path, methods in document["paths"].items():
            for method in methods:
                assert f"### `{method.upper()} {path}`" in text, f"{service} {method} {path}"


def test_configuration_has_every_option_of_every_command() -> None:
    """Each option (and env var) of every `jobqueue` command is in its section."""
    text = CONFIGURATION.read_text()
    for name, command in walk(main):
        start = text.index(f"## `{name}`")
        end = text.find("\n## ", start + 1)
        section = text[start : end if end != -1 else None]
        for param in command.params:
            for opt in [*param.opts, *param.secondary_opts]:
                if isinstance(param, click.Option):
                    assert f"`{opt}`" in section, f"{name} {opt}"
            if isinstance(param.envvar, str):
                assert f"`{param.envvar}`" in section, f"{name} {param.envvar}"


def test_every_environment_variable_in_the_source_is_documented() -> None:
    """Every JOBQUEUE_* name the code or the examples read appears in docs/configuration.md."""
    names: set[str] = set()
    for source in SOURCES:
        for path in (REPO / source).rglob("*.py"):
            if "tests" not in path.parts:
                names.update(re.findall(r"\bJOBQUEUE_[A-Z][A-Z0-9_]*\b", path.read_text()))
    text = CONFIGURATION.read_text()
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert names and missing == []
