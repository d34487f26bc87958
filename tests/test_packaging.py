"""The jobqueue distribution ships every package and data file it needs (not only editable)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> dict[str, str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {name: config["package-dir"].get(name, "") for name in config["packages"]}


def _package_dirs() -> dict[str, Path]:
    """Every folder with an __init__.py, named as it is imported."""
    found: dict[str, Path] = {}
    mounts = {"jobqueue": ROOT / "core/jobqueue"}
    mounts["jobqueue.controller"] = ROOT / "services/controller"
    mounts["jobqueue.dispatcher"] = ROOT / "services/dispatcher"
    for prefix, base in mounts.items():
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base).parts
            name = ".".join((prefix, *relative))
            if not any(part.startswith((".", "__")) for part in relative):
                found[name] = init.parent
    return found


def test_every_package_is_declared() -> None:
    """A new subpackage must be listed in pyproject's packages, or a wheel would drop it."""
    missing = sorted(set(_package_dirs()) - set(_declared()))
    assert not missing, f"add to [tool.setuptools] packages: {missing}"


def test_wheel_contains_migrations_and_every_module(tmp_path: Path) -> None:
    """A built wheel holds every module and the Alembic migration scripts."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         str(ROOT), "-w", str(tmp_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    [wheel] = tmp_path.glob("jobqueue-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package, folder in _package_dirs().items():
        for module in folder.glob("*.py"):
            expected = package.replace(".", "/") + "/" + module.name
            assert expected in names, expected
    assert "jobqueue/controller/migrations/versions/0001_initial.py" in names
    assert "jobqueue/controller/migrations/script.py.mako" in names
