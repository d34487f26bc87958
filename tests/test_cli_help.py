"""Every command answers --help with a description and no error."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from jobqueue.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


COMMANDS = _commands(main)


def test_the_design_commands_exist() -> None:
    """The commands DESIGN.md names are all there."""
    names = {" ".join(path) for path in COMMANDS}
    expected = {"dev", "controller", "dispatcher", "migrate", "publish", "dlq", "plugins"}
    expected |= {
        f"job {c}" for c in ("create", "get", "list", "update", "start", "stop", "archive")
    }
    assert expected <= names, expected - names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_help(path: tuple[str, ...]) -> None:
    """`jobqueue <command> --help` exits 0 and describes the command."""
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3
