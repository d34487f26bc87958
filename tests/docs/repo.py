"""Where the deployment files and docs live, for the tests of this package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ECHO_CONSUMER = "examples/echo_consumer.py"


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of ``path``, each asserted to be a mapping."""
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    for doc in documents:
        assert isinstance(doc, dict), f"{path}: a document is not a mapping"
    return documents


def plugin_names() -> set[str]:
    """The broker plugins shipped in plugins/ (a directory with a pyproject.toml)."""
    return {p.parent.name for p in (REPO / "plugins").glob("*/pyproject.toml")}
