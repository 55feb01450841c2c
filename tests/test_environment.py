"""The set-up files agree: environment.yml lists the same packages as pyproject.toml; torch stays the CPU pin."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def name_of(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_deps = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(map(str.strip, project)) == sorted(map(str.strip, pip_deps))


def test_torch_is_pinned_everywhere():
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text()
    assert '"torch==2.13.0"' in (ROOT / "pyproject.toml").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert makefile.index("pip install --quiet torch==2.13.0") < makefile.index("pip install --quiet -e .")


def test_no_cuda_packages_installed():
    listing = subprocess.run([sys.executable, "-m", "pip", "list"], capture_output=True, text=True).stdout
    assert not [line for line in listing.splitlines() if line.lower().startswith("nvidia-")]


def test_ci_calls_the_readme_test_command():
    assert "make test" in (ROOT / "README.md").read_text()
    assert "make test" in (ROOT / ".ci" / "run").read_text()
