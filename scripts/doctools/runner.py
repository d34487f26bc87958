"""Checking the blocks of doc pages, and running the ``run`` blocks against ``jobqueue dev``.

Every shell block gets the static checks (each ``jobqueue`` command line parses with the real
CLI, each repository path it names exists, each example worker flag is one its ``--help``
lists). ``run`` blocks are then executed with bash (``-euo pipefail``, ``curl`` failing on
HTTP errors) in a scratch directory of the page, against one `DevStack` on free ports: the
documented 4000 / 4001 are rewritten to its ports.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jobqueue.testing.processes import DevStack

from .blocks import Block, read_blocks
from .cliargs import check_args, long_options, script_options
from .shell import commands, jobqueue_args, why_not_runnable

PRELUDE = """\
set -euo pipefail
curl() { command curl --silent --show-error --fail-with-body "$@"; }
"""
BLOCK_TIMEOUT_S = 120
_REPO_PATH = re.compile(
    r"^(?:\./)?((?:examples|scripts|deploy|docs|plugins|core|services)/[\w./-]*)$"
)
_LINKED = ("examples", "scripts", "deploy", "docs", "plugins")


@dataclass
class Outcome:
    block: Block
    action: str  # ran, checked, wrote, matched, skipped
    problems: list[str] = field(default_factory=list)
    output: str = ""


class Checker:
    """Checks pages of one repository; starts the `DevStack` on the first ``run`` block."""

    def __init__(self, root: Path, scratch: Path) -> None:
        self.root = root
        self.scratch = scratch
        self._stack: DevStack | None = None
        self._script_options: dict[str, set[str]] = {}

    def close(self) -> None:
        if self._stack is not None:
            self._stack.stop()
            self._stack = None

    def stack(self) -> DevStack:
        if self._stack is None:
            # A short drain: the docs may leave messages un-acked, and nobody waits for them.
            self._stack = DevStack(self.scratch / "dev", "--drain-timeout", "1").start()
        return self._stack

    def check_page(self, page: Path) -> list[Outcome]:
        workdir = (
            self.scratch / "pages" / re.sub(r"[^\w.-]+", "_", str(page.relative_to(self.root)))
        )
        workdir.mkdir(parents=True, exist_ok=True)
        for name in _LINKED:
            link = workdir / name
            if not link.exists():
                link.symlink_to(self.root / name)
        strict = page.is_relative_to(self.root / "docs")
        return [self._check(block, workdir, strict) for block in read_blocks(page)]

    # -- one block ---------------------------------------------------------------------------

    def _check(self, block: Block, workdir: Path, strict: bool) -> Outcome:
        mode = block.mode
        if mode == "file":
            target = workdir / block.argument
            target.write_text(block.text)
            return Outcome(block, "wrote")
        if mode == "excerpt":
            source = self.root / block.argument
            if not source.is_file():
                return Outcome(block, "matched", [f"{block.argument} does not exist"])
            if block.text.strip("\n") not in source.read_text():
                return Outcome(block, "matched", [f"not a verbatim excerpt of {block.argument}"])
            return Outcome(block, "matched")
        if not block.is_shell:
            return Outcome(block, "skipped")
        problems = self._static(block)
        blockers = [reason for c in commands(block.text) if (reason := why_not_runnable(c))]
        if mode is None:
            if strict:
                problems.append("shell block without a `<!-- doccheck: run|static ... -->` marker")
                return Outcome(block, "checked", problems)
            mode = "static" if blockers else "run"
        if mode == "static":
            return Outcome(block, "checked", problems)
        if blockers:
            return Outcome(block, "ran", [*problems, *(f"cannot run: {b}" for b in blockers)])
        if problems:
            return Outcome(block, "ran", problems)
        return self._run(block, workdir)

    def _static(self, block: Block) -> list[str]:
        problems: list[str] = []
        for command in commands(block.text):
            where = f"line {command.line}"
            args = jobqueue_args(command)
            if args is not None:
                problems += [f"{where}: {problem}" for problem in check_args(args)]
            for word in command.words:
                match = _REPO_PATH.match(word)
                if match and not (self.root / match.group(1)).exists():
                    problems.append(f"{where}: {word} does not exist in the repository")
            script = command.words[1] if len(command.words) > 1 else ""
            if command.program in ("python", "python3") and script.startswith("examples/"):
                known = self._options_of(script)
                unknown = sorted(set(long_options(command.words[2:])) - known - {"--help"})
                if unknown:
                    problems.append(f"{where}: {script} has no option {', '.join(unknown)}")
        return problems

    def _options_of(self, script: str) -> set[str]:
        if script not in self._script_options:
            try:
                self._script_options[script] = script_options(script, cwd=str(self.root))
            except RuntimeError:
                self._script_options[script] = set()
        return self._script_options[script]

    def _run(self, block: Block, workdir: Path) -> Outcome:
        stack = self.stack()
        text = re.sub(
            r"\b(127\.0\.0\.1|localhost):4000\b", f"127.0.0.1:{stack.controller_port}", block.text
        )
        text = re.sub(
            r"\b(127\.0\.0\.1|localhost):4001\b", f"127.0.0.1:{stack.dispatcher_port}", text
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBQUEUE_")}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["JOBQUEUE_CONTROLLER"] = stack.controller_url
        env["JOBQUEUE_DISPATCHER"] = stack.dispatcher_url
        try:
            result = subprocess.run(
                ["bash", "-c", PRELUDE + text],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            output = _text(exc.stdout) + _text(exc.stderr)
            return Outcome(block, "ran", [f"did not finish within {BLOCK_TIMEOUT_S}s"], output)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            return Outcome(block, "ran", [f"exited with status {result.returncode}"], output)
        return Outcome(block, "ran", [], output)


def _text(captured: str | bytes | None) -> str:
    """What a timed-out process printed (bytes even with ``text=True``)."""
    if isinstance(captured, bytes):
        return captured.decode(errors="replace")
    return captured or ""


def default_pages(root: Path) -> list[Path]:
    """README.md, every page under docs/ and the plugin template's README."""
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    pages.append(root / "examples" / "plugin-template" / "README.md")
    return [page for page in pages if page.is_file()]


@contextlib.contextmanager
def checker(root: Path) -> Iterator[Checker]:
    with tempfile.TemporaryDirectory(prefix="doccheck-") as scratch:
        instance = Checker(root, Path(scratch))
        try:
            yield instance
        finally:
            instance.close()
