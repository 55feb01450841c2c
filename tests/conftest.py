"""Shared fixtures: the real MovieLens-100K data set (from the data cache) and a tiny hand-made one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from replication import datasets

# Tests compute everything afresh (the runner's on-disk cache is for re-building the book); set REPLICATION_CACHE
# to a folder to let a test session reuse results.
os.environ.setdefault("REPLICATION_CACHE", "off")

TINY = {
    "ml-100k.inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                     "10\t100\t5\t1\n10\t200\t3\t2\n20\t100\t4\t3\n20\t300\t1\t4\n30\t200\t2\t5\n",
    "ml-100k.item": "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
                    "100\tHeat\t1995\tAction Crime\n200\tTerminator, The\t1984\tSci-Fi\n300\tOdd\t\tunknown\n",
    "ml-100k.user": "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
                    "10\t30\tM\twriter\t111\n20\t40\tF\tartist\t222\n30\t50\tM\tother\t333\n",
    "ml-100k.kg": "head_id:token\trelation_id:token\ttail_id:token\n"
                  "m.heat\tfilm.film.directed_by\tm.mann\n"
                  "m.mann\tfilm.director.film\tm.heat\n"
                  "m.mann\tfilm.director.film\tm.term\n"
                  "m.heat\tfilm.film.actor\tm.deniro\n"
                  "m.term\tfilm.film.genre\tm.scifi\n"
                  "m.heat\tfilm.film.sequel\tm.term\n",
    "ml-100k.link": "item_id:token\tentity_id:token\n100\tm.heat\n200\tm.term\n",
}


def write_tiny(folder: Path, **overrides: str) -> Path:
    """Write the tiny data set (with some files replaced) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**TINY, **overrides}.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture(scope="session")
def ml100k() -> datasets.Dataset:
    return datasets.load()


@pytest.fixture()
def tiny(tmp_path: Path) -> datasets.Dataset:
    return datasets.parse_folder(write_tiny(tmp_path / "tiny"))


@pytest.fixture()
def small_blocks(monkeypatch):
    """Score matrices asked for by blocks of 7 users (of 30 items): the block path of the metrics on tiny data."""
    from replication import metrics

    monkeypatch.setattr(metrics, "BLOCK_ENTRIES", 7 * 30)
