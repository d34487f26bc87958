"""examples/plugin-template is a real third-party distribution: it installs with pip,
registers through the entry point, and passes the conformance suite with its own tests.

The template is built from a copy into a scratch ``--target`` directory, so the shared
virtualenv never gains a `memory` broker and the source tree gets no build artefacts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from jobqueue.testing import BrokerConformance
from tests.docs.repo import REPO

TEMPLATE = REPO / "examples" / "plugin-template"


def _install(tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / "plugin-template"
    shutil.copytree(
        TEMPLATE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*_cache"),
    )
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )  # fmt: skip
    assert install.returncode == 0, f"pip install of the template failed:\n{install.stderr}"
    return source, site


def test_template_installs_and_passes_its_tests_and_the_conformance_suite(
    tmp_path: Path,
) -> None:
    """pip installs the template; its tests pass, every conformance test ran, none skipped."""
    source, site = _install(tmp_path)
    report = tmp_path / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    # From the copy's own directory, with its own pytest settings, against the installed copy.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", f"--junitxml={report}"],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, f"the template's tests failed:\n{run.stdout[-6000:]}"

    cases = list(ET.parse(report).getroot().iter("testcase"))
    skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
    ran = {c.get("name") for c in cases if c.get("classname", "").endswith("MemoryConformance")}
    suite = {name for name in dir(BrokerConformance) if name.startswith("test_")}
    assert skipped == []
    assert ran == suite, f"conformance tests that did not run: {sorted(suite - ran)}"
    assert any(c.get("name") == "test_entry_point_registers_the_broker" for c in cases)
