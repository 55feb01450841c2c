"""The command line: help lists the commands; parameter values parse as literals; bad names fail clearly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from replication import cli
from replication.errors import ConfigError


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "replication", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("book", "run", "data", "download", "reference"):
        assert command in out.stdout


@pytest.mark.parametrize("text,value", [("5", 5), ("0.1", 0.1), ("[1, 2]", [1, 2]), ("True", True), ("all", "all")])
def test_parse_value(text, value):
    assert cli.parse_value(text) == value


def test_run_unknown_notebook_names_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="no notebook .*nope.md.*data.md"):
        cli.main(["run", "nope", "--output", str(tmp_path / "x.ipynb")])


def test_data_command_prints_the_summary(capsys):
    assert cli.main(["data"]) == 0
    assert "'ratings': 100000" in capsys.readouterr().out
