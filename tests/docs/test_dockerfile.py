"""The Dockerfile, linted without a Docker engine: stages, non-root user, COPY sources, ARGs."""

from __future__ import annotations

import pytest

from tests.docs.dockerfile import Stage, ignore_patterns, is_ignored, stages
from tests.docs.repo import ECHO_CONSUMER, REPO, plugin_names

DOCKERFILE = REPO / "Dockerfile"
PREAMBLE, STAGES = stages(DOCKERFILE)
FINAL = STAGES[-1]
IGNORED = ignore_patterns(REPO / ".dockerignore")


def _arg_default(name: str) -> str:
    for instruction in PREAMBLE:
        key, _, value = instruction.arguments.partition("=")
        if instruction.keyword == "ARG" and key == name:
            return value.strip('"')
    pytest.fail(f"no global `ARG {name}=...` before the first FROM")


def test_multi_stage_build() -> None:
    """At least a build stage and a runtime stage; the runtime stage copies from the build."""
    assert len(STAGES) >= 2
    assert FINAL.base.startswith("python:")
    sources = {i.flags().get("from") for i in FINAL.all("COPY")}
    assert sources & {s.name for s in STAGES[:-1]}, "the final stage copies nothing it built"


def test_final_stage_runs_as_a_non_root_user() -> None:
    """The last USER of the final stage is neither root nor uid 0."""
    users = FINAL.all("USER")
    assert users, "the final stage has no USER: it would run as root"
    user = users[-1].arguments.split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric uid lets Kubernetes' runAsNonRoot check it"


def test_copy_sources_exist_and_are_in_the_build_context() -> None:
    """Every COPY from the context names a path that exists and .dockerignore keeps."""
    names = [s.name for s in STAGES]
    for index, stage in enumerate(STAGES):
        for copy in stage.all("COPY") + stage.all("ADD"):
            words = copy.words()
            if "from" in copy.flags():
                assert copy.flags()["from"] in names[:index], f"line {copy.line}"
                continue
            for source in words[:-1]:
                assert (REPO / source).exists(), f"line {copy.line}: {source} does not exist"
                assert not is_ignored(source, IGNORED), f"line {copy.line}: {source} ignored"


def test_needed_files_are_not_ignored() -> None:
    """The packaging files, every plugin and the example workers reach the build."""
    needed = ["pyproject.toml", "README.md", "core/jobqueue/__init__.py", ECHO_CONSUMER]
    needed += [f"plugins/{name}/pyproject.toml" for name in plugin_names()]
    for path in needed:
        assert (REPO / path).exists(), path
        assert not is_ignored(path, IGNORED), path
    assert is_ignored(".venv/bin/python", IGNORED)
    assert is_ignored("plugins/kafka/tests/conftest.py", IGNORED)


def test_plugins_build_argument() -> None:
    """ARG PLUGINS defaults to every shipped plugin and each stage that uses it declares it."""
    assert set(_arg_default("PLUGINS").split()) == plugin_names()
    for stage in STAGES:
        uses = any("PLUGINS" in i.arguments for i in stage.instructions if i.keyword != "ARG")
        declared = any(i.arguments == "PLUGINS" for i in stage.all("ARG"))
        assert declared or not uses, f"stage {stage.name} uses $PLUGINS without `ARG PLUGINS`"


def test_entrypoint_and_ports() -> None:
    """The image runs `jobqueue` and exposes the controller and dispatcher ports."""
    assert FINAL.all("ENTRYPOINT")[-1].words() == ["jobqueue"]
    exposed = {word for i in FINAL.all("EXPOSE") for word in i.words()}
    assert {"4000", "4001"} <= exposed


def test_no_secrets_baked_into_the_image() -> None:
    """No ENV or ARG carries a token, password or key."""
    stage_lists: list[Stage] = STAGES
    for instruction in PREAMBLE + [i for s in stage_lists for i in s.instructions]:
        if instruction.keyword in ("ENV", "ARG"):
            text = instruction.arguments.upper()
            for word in ("TOKEN", "PASSWORD", "SECRET", "AWS_"):
                assert word not in text, f"line {instruction.line}: {instruction.arguments}"


def test_dockerignore_matching() -> None:
    """The matcher used above follows Docker's rules for the patterns we use."""
    patterns = ["**/__pycache__", "build", "plugins/*/tests", "docs", "!docs/keep.md"]
    assert is_ignored("core/jobqueue/__pycache__/x.pyc", patterns)
    assert is_ignored("build/lib/a.py", patterns)
    assert is_ignored("plugins/redis/tests/test_x.py", patterns)
    assert not is_ignored("plugins/redis/jobqueue_redis/broker.py", patterns)
    assert not is_ignored("buildx", patterns)
    assert not is_ignored("docs/keep.md", patterns)
