"""The offline MovieLens-100K + knowledge-graph loader: real sizes, id mapping, and loud failures on bad input."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from replication import datasets
from replication.errors import ChecksumError, ConfigError, DataError
from tests.conftest import TINY, write_tiny


def test_real_data_has_the_documented_sizes(ml100k):
    assert ml100k.summary() == {"ratings": 100_000, "users": 943, "items": 1_682, "linked_items": 1_598,
                                "triples": 91_631}
    assert ml100k.ratings["rating"].between(1, 5).all()
    assert set(ml100k.checksums) == set(datasets.FILES)


def test_real_ids_are_contiguous_and_map_back(ml100k):
    assert ml100k.ratings["user"].min() == 0 and ml100k.ratings["user"].max() == 942
    assert np.array_equal(ml100k.items["item"], np.arange(1682))
    assert ml100k.items.loc[0, "raw_id"] == 1 and ml100k.items.loc[0, "title"] == "Toy Story"
    assert ml100k.title(0) == "Toy Story (1995)"
    R = ml100k.rating_matrix()
    assert R.shape == (943, 1682) and R.nnz == 100_000


def test_genre_matrix_matches_the_genre_lists(ml100k):
    G = ml100k.genre_matrix()
    assert G.shape == (1682, len(datasets.GENRES))
    assert np.array_equal(G.sum(1), ml100k.items["genres"].map(len).to_numpy())
    assert G[0, datasets.GENRES.index("Animation")] == 1


def test_tiny_folder_parses_with_contiguous_ids(tiny):
    assert tiny.n_users == 3 and tiny.n_items == 3
    assert tiny.ratings[["user", "item"]].values.tolist() == [[0, 0], [0, 1], [1, 0], [1, 2], [2, 1]]
    assert tiny.items["genres"].tolist() == [["Action", "Crime"], ["Sci-Fi"], []]
    assert tiny.items["entity"].tolist()[:2] == ["m.heat", "m.term"] and tiny.items["entity"].isna()[2]
    assert tiny.title(1) == "The Terminator (1984)"
    assert tiny.title(2) == "Odd"


@pytest.mark.parametrize("name,text,needle", [
    ("ml-100k.inter", TINY["ml-100k.inter"] + "30\t100\t7\t6\n", "line 7: rating 7.0 outside"),
    ("ml-100k.inter", TINY["ml-100k.inter"] + "30\tabc\t3\t6\n", "line 7: column 'item_id' is not a number"),
    ("ml-100k.inter", TINY["ml-100k.inter"] + "99\t100\t3\t6\n", "line 7: unknown user id '99'"),
    ("ml-100k.inter", TINY["ml-100k.inter"] + "10\t100\t3\t6\n", "line 7: a second rating"),
    ("ml-100k.inter", "user\titem\trating\ttime\n", "header has columns"),
    ("ml-100k.item", TINY["ml-100k.item"] + "400\tX\t1990\tWestern Opera\n", "unknown genres ['Opera']"),
])
def test_bad_rows_name_the_file_and_line(tmp_path, name, text, needle):
    folder = write_tiny(tmp_path / "bad", **{name: text})
    with pytest.raises(DataError) as info:
        datasets.parse_folder(folder)
    assert name in str(info.value) and needle in str(info.value)


def test_missing_file_is_named(tmp_path):
    folder = write_tiny(tmp_path / "partial")
    (folder / "ml-100k.kg").unlink()
    with pytest.raises(DataError, match=r"missing data file .*ml-100k\.kg"):
        datasets.parse_folder(folder)


def fake_wheel(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(datasets.MEMBER_DIR + name, text)
    return path


def test_extract_verifies_checksum_and_extracts(tmp_path):
    wheel = fake_wheel(tmp_path / "w.whl", TINY)
    folder = datasets.extract_wheel(wheel, tmp_path, sha256=datasets.sha256_of(wheel))
    assert sorted(p.name for p in folder.iterdir()) == sorted(datasets.FILES)
    assert datasets.parse_folder(folder).n_users == 3


def test_extract_rejects_a_wrong_checksum(tmp_path):
    wheel = fake_wheel(tmp_path / "w.whl", TINY)
    with pytest.raises(ChecksumError, match="w.whl: SHA-256 is"):
        datasets.extract_wheel(wheel, tmp_path, sha256="0" * 64)
    assert not (tmp_path / "ml-100k").exists()


def test_extract_names_a_missing_member(tmp_path):
    files = dict(TINY)
    files.pop("ml-100k.link")
    wheel = fake_wheel(tmp_path / "w.whl", files)
    with pytest.raises(DataError, match="no member recbole/dataset_example/ml-100k/ml-100k.link"):
        datasets.extract_wheel(wheel, tmp_path, sha256=datasets.sha256_of(wheel))
    assert not (tmp_path / "ml-100k").exists()


def test_unknown_dataset_name_lists_allowed():
    with pytest.raises(ConfigError, match=r"unknown data set 'ml-5m'; allowed: ml-100k, ml-1m, ml-20m"):
        datasets.load("ml-5m")


def test_cached_wheel_matches_the_pinned_checksum():
    wheel = datasets.default_cache() / datasets.WHEEL_NAME
    if not wheel.exists():
        pytest.skip("data cache holds only the extracted files")
    assert datasets.sha256_of(wheel) == datasets.WHEEL_SHA256


def damage(path: Path, how: str) -> None:
    """Corrupt one byte of, truncate to half, or delete a data file."""
    if how == "delete":
        path.unlink()
        return
    raw = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(raw[: len(raw) // 2]))
    else:
        raw[len(raw) // 2] ^= 0x01
        path.write_bytes(bytes(raw))


@pytest.fixture()
def extracted(tmp_path):
    """A cache folder with a (fake) verified wheel, extracted once: (cache, pinned file digests, wheel digest)."""
    wheel = fake_wheel(tmp_path / datasets.WHEEL_NAME, TINY)
    pinned = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in TINY.items()}
    datasets.ensure_files(tmp_path, pinned, datasets.sha256_of(wheel))
    return tmp_path, pinned, datasets.sha256_of(wheel)


@pytest.mark.parametrize("how", ["corrupt", "truncate", "delete"])
@pytest.mark.parametrize("name", datasets.FILES)
def test_a_damaged_data_file_is_re_extracted_with_a_message(extracted, capsys, name, how):
    cache, pinned, wheel_digest = extracted
    capsys.readouterr()
    damage(cache / "ml-100k" / name, how)
    assert datasets.damaged_files(cache / "ml-100k", pinned) == [name]
    folder = datasets.ensure_files(cache, pinned, wheel_digest)
    assert (folder / name).read_text() == TINY[name]
    message = capsys.readouterr().err
    assert name in message and "re-extracted from the verified wheel" in message


def test_an_intact_cache_loads_without_a_message(extracted, capsys):
    cache, pinned, wheel_digest = extracted
    capsys.readouterr()
    datasets.ensure_files(cache, pinned, wheel_digest)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name", datasets.FILES)
def test_a_damaged_data_file_that_cannot_be_restored_is_named(extracted, monkeypatch, name):
    cache, pinned, wheel_digest = extracted
    (cache / datasets.WHEEL_NAME).unlink()
    monkeypatch.setattr(datasets, "fetch_wheel", lambda dest: (_ for _ in ()).throw(DataError("offline")))
    damage(cache / "ml-100k" / name, "truncate")
    with pytest.raises(DataError, match=rf"{name} is missing or damaged and could not be restored: offline"):
        datasets.ensure_files(cache, pinned, wheel_digest)


def test_a_damaged_wheel_is_named_too(extracted):
    cache, pinned, wheel_digest = extracted
    damage(cache / datasets.WHEEL_NAME, "corrupt")
    damage(cache / "ml-100k" / "ml-100k.kg", "delete")
    with pytest.raises(DataError, match=rf"ml-100k.kg is missing or damaged .*{datasets.WHEEL_NAME}: SHA-256 is"):
        datasets.ensure_files(cache, pinned, wheel_digest)


def test_the_data_cache_matches_the_pinned_file_checksums():
    folder = datasets.ensure_files()
    assert datasets.damaged_files(folder) == []
    assert set(datasets.FILE_SHA256) == set(datasets.FILES)
