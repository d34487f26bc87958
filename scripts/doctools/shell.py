"""Reading shell blocks without running them: simple commands, and what each one touches.

Good enough for the commands docs contain (pipelines, ``&&``, ``VAR=value`` prefixes,
backslash continuations, here-documents); anything fancier should not be in a doc.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_OPERATORS = frozenset({"&&", "||", "|", ";", "&", "(", ")"})
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")

# Commands that start a long-running server or change the machine: never run by doccheck.
SERVERS = frozenset({"scripts/dev.sh"})
JOBQUEUE_SERVERS = frozenset({"dev", "controller", "dispatcher"})
MACHINE = frozenset({"scripts/test.sh", "scripts/bootstrap.sh", "pip", "apt-get", "sudo",
                     "docker", "docker-compose", "kubectl", "helm"})  # fmt: skip


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    line: int  # within the block, 1-based

    @property
    def program(self) -> str:
        return self.words[0] if self.words else ""


def commands(text: str) -> list[Command]:
    """The simple commands of a block, skipping comments and here-document bodies."""
    found: list[Command] = []
    logical = ""
    start = 0
    delimiter: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if delimiter is not None:
            if raw.strip() == delimiter:
                delimiter = None
            continue
        if not logical:
            start = number
        if raw.rstrip().endswith("\\"):
            logical += raw.rstrip()[:-1] + " "
            continue
        logical += raw
        if not _quotes_closed(logical):
            logical += "\n"
            continue
        heredoc = _HEREDOC.search(logical)
        if heredoc:
            delimiter = heredoc.group(1)
            logical = logical[: heredoc.start()]
        found += _split(logical, start)
        logical = ""
    if logical:
        found += _split(logical, start)
    return found


def _quotes_closed(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:
        return False
    return True


def _split(line: str, number: int) -> list[Command]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    result: list[Command] = []
    words: list[str] = []
    for token in lexer:
        if token in _OPERATORS or set(token) <= set("&|;()<>"):
            if words:
                result.append(Command(tuple(words), number))
            words = []
            if token.startswith((">", "<")):
                words = ["__redirect__"]
            continue
        if words == ["__redirect__"]:
            words = []  # the redirect's target
            continue
        words.append(token)
    if words and words != ["__redirect__"]:
        result.append(Command(tuple(words), number))
    stripped = [_without_assignments(c) for c in result]
    return [c for c in stripped if c.words]


def _without_assignments(command: Command) -> Command:
    words = list(command.words)
    while words and _ASSIGNMENT.match(words[0]):
        words.pop(0)
    return Command(tuple(words), command.line)


def jobqueue_args(command: Command) -> list[str] | None:
    """The arguments of a ``jobqueue`` invocation, or None for another program."""
    if command.program.rsplit("/", 1)[-1] == "jobqueue":
        return list(command.words[1:])
    if command.words[:3] == ("python", "-m", "jobqueue"):
        return list(command.words[3:])
    return None


def why_not_runnable(command: Command) -> str | None:
    """Why doccheck must not run ``command`` (a server, or a change to the machine)."""
    program = command.program
    if program in SERVERS:
        return f"`{program}` starts a server"
    if program in MACHINE:
        return f"`{program}` needs or changes the machine"
    args = jobqueue_args(command)
    if args and args[0] in JOBQUEUE_SERVERS and not ({"-h", "--help"} & set(args)):
        return f"`jobqueue {args[0]}` starts a server"
    return None
