"""The set-up files agree: environment.yml lists the same packages as pyproject.toml; requirements.lock pins every
package with hashes, satisfies pyproject.toml and is exactly what is installed; torch stays the CPU pin."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

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
    steps = ["pip install --quiet torch==2.13.0", "pip install --quiet --require-hashes -r requirements.lock",
             "pip install --quiet --no-deps -e ."]
    assert [makefile.index(step) for step in steps] == sorted(makefile.index(step) for step in steps), \
        "torch first, then exactly the locked versions, then the project without dependencies"


def test_no_cuda_packages_installed():
    listing = subprocess.run([sys.executable, "-m", "pip", "list"], capture_output=True, text=True).stdout
    assert not [line for line in listing.splitlines() if line.lower().startswith("nvidia-")]


def test_ci_calls_the_readme_test_command():
    assert "make test" in (ROOT / "README.md").read_text()
    assert "make test" in (ROOT / ".ci" / "run").read_text()


LOCK = ROOT / "requirements.lock"


def locked() -> tuple[dict[str, str], set[str]]:
    """requirements.lock as {package: pinned version} and the set of packages that carry a hash."""
    pins, hashed, current = {}, set(), None
    for line in LOCK.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", line)
        if pin:
            current = name_of(pin.group(1))
            pins[current] = pin.group(2)
        elif current and line.strip().startswith("--hash=sha256:"):
            hashed.add(current)
    return pins, hashed


def test_lock_pins_every_package_with_a_hash_and_nothing_machine_specific():
    pins, hashed = locked()
    assert len(pins) > 50 and set(pins) == hashed, f"pinned without a hash: {sorted(set(pins) - hashed)}"
    assert pins["torch"] == "2.13.0+cpu", "the CPU build of torch"
    text = LOCK.read_text()
    assert not re.search(r"^--(extra-index-url|index-url|find-links)", text, re.M) and "/tmp/" not in text


def test_lock_satisfies_pyproject():
    pins, _ = locked()
    for text in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(text)
        version = pins.get(name_of(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(version, prereleases=True), f"lock has {requirement.name} {version}"


def test_installed_packages_are_exactly_the_lock():
    """What `make setup` installed equals requirements.lock: no package missing, extra or at another version (pip
    itself and the project, installed from the checkout, aside)."""
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True).stdout
    installed = {name_of(name): version for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)$", freeze, re.M)}
    installed.pop("pip", None)
    pins, _ = locked()
    assert installed == pins, {k: (installed.get(k), pins.get(k)) for k in set(installed) | set(pins)
                               if installed.get(k) != pins.get(k)}

