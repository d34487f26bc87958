"""Checking a ``jobqueue ...`` command line against the real click commands, without running it.

Used wherever a command is written down but cannot run here: compose and Kubernetes
manifests, and doc blocks that start a server. An option that does not exist, a bad value
or a missing required option is reported the way ``jobqueue`` itself would report it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence

import click

from jobqueue.cli import main

HELP_OR_VERSION = ("-h", "--help", "--version")


def command_path(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``argv`` (without the leading ``jobqueue``) into command names and the rest."""
    names: list[str] = []
    command: click.Command = main
    rest = list(argv)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(click.Context(command), rest[0])
        if sub is None:
            break
        names.append(rest.pop(0))
        command = sub
    return names, rest


def check_args(argv: Sequence[str]) -> list[str]:
    """Problems with ``jobqueue <argv>``; an empty list when click would accept it."""
    names, rest = command_path(argv)
    command: click.Command = main
    for name in names:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    label = " ".join(["jobqueue", *names])
    if isinstance(command, click.Group):
        if rest and rest[0] not in HELP_OR_VERSION:
            known = ", ".join(command.list_commands(click.Context(command)))
            return [f"{label}: no command {rest[0]!r} (commands: {known})"]
        if not rest:
            return [f"{label}: a command is missing"]
        return []
    try:
        command.make_context(label, list(rest))
    except click.exceptions.Exit:  # --help
        return []
    except click.MissingParameter as exc:
        return [f"{label}: {exc.format_message()}"]
    except click.BadParameter as exc:
        if isinstance(exc.param.type if exc.param else None, click.File):
            return []  # the file is opened at run time, where the command runs
        return [f"{label}: {exc.format_message()}"]
    except click.UsageError as exc:
        return [f"{label}: {exc.format_message()}"]
    return []


def script_options(script: str, *, cwd: str) -> set[str]:
    """The ``--options`` a Python script's ``--help`` lists (for the example workers)."""
    result = subprocess.run(
        [sys.executable, script, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"`python {script} --help` failed: {result.stderr.strip()}")
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.stdout))


def long_options(argv: Sequence[str]) -> list[str]:
    """The ``--name`` options used in ``argv`` (``--name=value`` counts as ``--name``)."""
    return [arg.split("=", 1)[0] for arg in argv if arg.startswith("--")]
