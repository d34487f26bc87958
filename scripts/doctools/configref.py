"""The configuration reference (docs/configuration.md), rendered from the click commands.

Every option of every ``jobqueue`` command, with its type, default and environment
variable, comes from the command objects themselves, so the page cannot drift from the CLI.
Environment variables read outside click are listed in `OTHER_ENV`; a test checks that every
``JOBQUEUE_*`` name in the source appears on the page.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import click

from jobqueue.cli import main
from jobqueue.plugins import DISABLE_ENV

from .markdown import GENERATED_NOTE, anchor, code, rst_to_markdown, table

# Read with os.environ, not through a click option: (name, who reads it, what it does).
OTHER_ENV: tuple[tuple[str, str, str], ...] = (
    (
        DISABLE_ENV,
        "every command that loads plugins (controller, dispatcher, dev, plugins)",
        "comma-separated entry-point or broker names that are not loaded, e.g. `kafka,redis`",
    ),
    (
        "JOBQUEUE_DISPATCHER",
        "`examples/echo_consumer.py`, `examples/echo_producer.py`",
        "dispatcher URL (default `http://127.0.0.1:4001`)",
    ),
    (
        "JOBQUEUE_DISPATCHER_TOKEN",
        "`examples/echo_consumer.py`, `examples/echo_producer.py`",
        "bearer token sent to the dispatcher",
    ),
    (
        "JOBQUEUE_TEST_KAFKA",
        "the Kafka plugin's tests",
        "`host:port` of a Kafka broker to test against instead of the bundled one",
    ),
)

INTRO = """\
# Configuration reference

{note}

jobqueue is configured with command-line options; the ones that carry credentials or
addresses can come from environment variables instead (an option given on the command line
wins over its variable; an empty variable counts as unset). Jobs themselves (broker, topic,
retries) are configured through the controller's API, not here: see [api.md](api.md) and
the [broker guides](brokers/).

Every command answers `--help`:

<!-- doccheck: run -->
```sh
jobqueue --help
jobqueue dispatcher --help
```
"""


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    """``(full name, command)`` for every leaf command, in alphabetical order."""
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, (*path, name))
    else:
        yield " ".join(("jobqueue", *path)), command


def _type(param: click.Parameter) -> str:
    kind = param.type
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    if isinstance(kind, click.Choice):
        return " | ".join(str(choice) for choice in kind.choices)
    if isinstance(kind, click.IntRange | click.FloatRange):
        base = "integer" if isinstance(kind, click.IntRange) else "number"
        limits = []
        if kind.min is not None:
            limits.append(f"{'>' if kind.min_open else '>='} {kind.min}")
        if kind.max is not None:
            limits.append(f"{'<' if kind.max_open else '<='} {kind.max}")
        return f"{base} {' and '.join(limits)}".strip()
    if isinstance(kind, click.File):
        return "file (`-` = stdin)"
    if isinstance(kind, click.Path):
        return "directory" if not kind.file_okay else "path"
    names = {"integer": "integer", "float": "number", "text": "text", "boolean": "boolean"}
    return names.get(kind.name, kind.name)


def _default(param: click.Parameter, ctx: click.Context) -> str:
    if param.required:
        return "required"
    value: Any = param.get_default(ctx, call=False)
    if callable(value):
        return "computed"
    if isinstance(param, click.Option) and param.is_flag:
        return "off" if not value else "on"
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return code(str(value))
    return ""


def _envvars(param: click.Parameter) -> list[str]:
    envvar = param.envvar
    if envvar is None:
        return []
    return [envvar] if isinstance(envvar, str) else list(envvar)


def _names(param: click.Parameter) -> str:
    if isinstance(param, click.Argument):
        return code(param.human_readable_name)
    return ", ".join(code(opt) for opt in [*param.opts, *param.secondary_opts])


def _help(command: click.Command) -> str:
    text = inspect.cleandoc(command.help or "").replace("\b\n", "")
    return rst_to_markdown(text)


def command_section(name: str, command: click.Command) -> list[str]:
    ctx = click.Context(command, info_name=name)
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [f'<a id="{anchor(name)}"></a>', "", f"## `{name}`", "", _help(command), ""]
    lines += [f"Usage: `{name} {usage}`", ""]
    rows = []
    for param in command.params:
        if isinstance(param, click.Option) and param.hidden:
            continue
        help_text = getattr(param, "help", None) or ""
        env = ", ".join(code(v) for v in _envvars(param))
        rows.append([_names(param), _type(param), _default(param, ctx), env, help_text])
    rows.append([code("-h") + ", " + code("--help"), "flag", "", "", "Show the help and exit."])
    lines += table(["option", "type", "default", "env", "description"], rows)
    return [*lines, ""]


def env_section() -> list[str]:
    """One row per variable: the options it sets (by command) and what it means."""
    readers: dict[str, dict[str, list[str]]] = {}
    meaning: dict[str, list[str]] = {}
    for name, command in walk(main):
        for param in command.params:
            for var in _envvars(param):
                link = f"[`{name.removeprefix('jobqueue ')}`](#{anchor(name)})"
                readers.setdefault(var, {}).setdefault(_names(param), []).append(link)
                meaning.setdefault(var, ["the option's value"])
    rows: dict[str, list[str]] = {}
    for var, by_option in readers.items():
        rows[var] = [f"{option} of {', '.join(links)}" for option, links in by_option.items()]
    for var, who, what in OTHER_ENV:
        rows.setdefault(var, []).append(who)
        meaning.setdefault(var, []).append(what)
    lines = ["## Environment variables", ""]
    lines += table(
        ["variable", "read by", "meaning"],
        [[code(var), "; ".join(rows[var]), "; ".join(meaning[var])] for var in sorted(rows)],
    )
    lines += [
        "",
        "Broker clients read their own standard variables too: the Kinesis plugin uses the",
        "AWS credential chain (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`,",
        "instance roles...) when a job's config carries no keys.",
        "",
    ]
    return lines


def render() -> str:
    lines = [INTRO.format(note=GENERATED_NOTE.format(source="the click commands"))]
    commands = list(walk(main))
    lines += ["| command | what it does |", "|---|---|"]
    for name, command in commands:
        summary = command.get_short_help_str(limit=100)
        lines.append(f"| [`{name}`](#{anchor(name)}) | {rst_to_markdown(summary)} |")
    lines.append("")
    lines += env_section()
    for name, command in commands:
        lines += command_section(name, command)
    return "\n".join(lines).rstrip() + "\n"
