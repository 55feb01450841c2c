"""The environment settings, read in one module when asked for, with a clear error for a bad value."""

from __future__ import annotations

import pytest

from replication import settings
from replication.errors import ConfigError


def test_the_dense_limit_is_a_setting_with_a_clear_error(monkeypatch):
    monkeypatch.delenv("REPLICATION_DENSE_ENTRIES", raising=False)
    assert settings.dense_entries() == 1 << 26
    monkeypatch.setenv("REPLICATION_DENSE_ENTRIES", "0")
    assert settings.dense_entries() == 0
    monkeypatch.setenv("REPLICATION_DENSE_ENTRIES", "lots")
    with pytest.raises(ConfigError, match="REPLICATION_DENSE_ENTRIES must be a non-negative integer.*'lots'"):
        settings.dense_entries()
