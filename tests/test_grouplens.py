"""Tests for replication.grouplens: strict loaders on tiny fake folders, downloads from 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replication import datasets, grouplens, synthetic
from replication.errors import ChecksumError, ConfigError, DataError
from replication.grouplens import (
    ARCHIVES,
    Archive,
    download,
    load_grouplens,
    load_ml1m,
    load_ml20m,
    load_ml100k,
    main_download,
)
from tests.helpers import SMALL

# --------------------------------------------------------------------------------------------
# Fake dataset folders
# --------------------------------------------------------------------------------------------

ML100K_RATINGS = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"


def _flags(*on: int) -> str:
    """Return the 19 ml-100k genre flags with the given positions set."""
    return "|".join("1" if i in on else "0" for i in range(19))


ML100K_ITEMS = (
    f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|{_flags(3, 4, 5)}\n"
    f"2|GoldenEye (1995)|01-Jan-1995||http://x|{_flags(1, 2, 16)}\n"
    f"267|unknown||||{_flags(0)}\n"
    f"1300|Misérables, Les (1995)|01-Jan-1995||http://x|{_flags(8)}\n"
)

ML1M_RATINGS = "1::1193::5::978300760\n1::661::3::978302109\n2::1357::5::978298709\n"
ML1M_MOVIES = (
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Jumanji (1995)::Adventure|Children's|Fantasy\n"
    "73::Misérables, Les (1995)::Drama|Musical\n"
    "3952::Contender, The (2000)::Drama|Thriller\n"
)

ML20M_RATINGS = (
    "userId,movieId,rating,timestamp\n"
    "1,2,3.5,1112486027\n"
    "1,29,0.5,1112484676\n"
    "138493,131262,5.0,1427745466\n"
)
ML20M_MOVIES = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
    '11,"American President, The (1995)",Comedy|Drama|Romance\n'
    "131262,Innocence (2014),Adventure|Fantasy|Horror\n"
    "130,Babylon 5,(no genres listed)\n"
    "108548,Big Bang Theory (2007-),Comedy\n"
)


def make_ml100k(root: Path, ratings: str = ML100K_RATINGS, items: str = ML100K_ITEMS) -> Path:
    """Write a tiny ml-100k folder."""
    folder = root / "ml-100k"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(ratings, encoding="latin-1")
    (folder / "u.item").write_text(items, encoding="latin-1")
    return folder


def make_ml1m(root: Path, ratings: str = ML1M_RATINGS, movies: str = ML1M_MOVIES) -> Path:
    """Write a tiny ml-1m folder."""
    folder = root / "ml-1m"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.dat").write_text(ratings, encoding="latin-1")
    (folder / "movies.dat").write_text(movies, encoding="latin-1")
    return folder


def make_ml20m(root: Path, ratings: str = ML20M_RATINGS, movies: str = ML20M_MOVIES) -> Path:
    """Write a tiny ml-20m folder."""
    folder = root / "ml-20m"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_text(ratings, encoding="utf-8")
    (folder / "movies.csv").write_text(movies, encoding="utf-8")
    return folder


def check_ratings_dtypes(ratings: pd.DataFrame) -> None:
    """Assert the RatingsFrame convention."""
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert ratings["user_id"].dtype == np.int64
    assert ratings["item_id"].dtype == np.int64
    assert ratings["rating"].dtype == np.float32
    assert ratings["timestamp"].dtype == np.int64


def check_items_dtypes(items: pd.DataFrame) -> None:
    """Assert the ItemsFrame convention."""
    assert list(items.columns) == ["item_id", "title", "year", "genres"]
    assert items["item_id"].dtype == np.int64
    assert pd.api.types.is_string_dtype(items["title"])
    assert all(isinstance(title, str) for title in items["title"])
    assert items["year"].dtype == pd.Int64Dtype()
    assert all(isinstance(genres, list) for genres in items["genres"])


# --------------------------------------------------------------------------------------------
# Loading valid data
# --------------------------------------------------------------------------------------------


def test_load_ml100k(tmp_path: Path) -> None:
    ratings, items = load_ml100k(make_ml100k(tmp_path))
    check_ratings_dtypes(ratings)
    check_items_dtypes(items)
    assert ratings.to_numpy().tolist() == [
        [196, 242, 3, 881250949],
        [186, 302, 3, 891717742],
        [22, 377, 1, 878887116],
    ]
    assert items["item_id"].tolist() == [1, 2, 267, 1300]
    assert items["title"].tolist()[3] == "Misérables, Les (1995)"
    assert items["year"].tolist()[:2] == [1995, 1995]
    assert items["year"].isna().tolist() == [False, False, True, False]
    assert items["genres"].tolist() == [
        ["Animation", "Children's", "Comedy"],
        ["Action", "Adventure", "Thriller"],
        ["unknown"],
        ["Drama"],
    ]


def test_load_ml1m(tmp_path: Path) -> None:
    ratings, items = load_ml1m(make_ml1m(tmp_path))
    check_ratings_dtypes(ratings)
    check_items_dtypes(items)
    assert ratings["user_id"].tolist() == [1, 1, 2]
    assert ratings["item_id"].tolist() == [1193, 661, 1357]
    assert ratings["rating"].tolist() == [5.0, 3.0, 5.0]
    assert ratings["timestamp"].tolist() == [978300760, 978302109, 978298709]
    assert items["item_id"].tolist() == [1, 2, 73, 3952]
    assert items["title"].tolist()[2] == "Misérables, Les (1995)"
    assert items["year"].tolist() == [1995, 1995, 1995, 2000]
    assert items["genres"].tolist()[0] == ["Animation", "Children's", "Comedy"]


def test_load_ml20m(tmp_path: Path) -> None:
    ratings, items = load_ml20m(make_ml20m(tmp_path))
    check_ratings_dtypes(ratings)
    check_items_dtypes(items)
    assert ratings["user_id"].tolist() == [1, 1, 138493]
    assert ratings["rating"].tolist() == [3.5, 0.5, 5.0]
    assert items["title"].tolist()[1] == "American President, The (1995)"
    assert items["year"].isna().tolist() == [False, False, False, True, True]
    assert items["year"].tolist()[:3] == [1995, 1995, 2014]
    assert items["genres"].tolist()[3] == []
    assert items["genres"].tolist()[1] == ["Comedy", "Drama", "Romance"]


def test_crlf_line_endings_load(tmp_path: Path) -> None:
    folder = make_ml1m(tmp_path, ratings=ML1M_RATINGS.replace("\n", "\r\n"))
    ratings, _ = load_ml1m(folder)
    assert len(ratings) == 3


@pytest.mark.parametrize(
    ("name", "maker"), [("ml-100k", make_ml100k), ("ml-1m", make_ml1m), ("ml-20m", make_ml20m)]
)
def test_load_grouplens_dispatches(tmp_path: Path, name: str, maker) -> None:
    ratings, items = load_grouplens(name, maker(tmp_path))
    assert len(ratings) == 3
    assert len(items) >= 4


def test_load_grouplens_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_grouplens("ml-25m", tmp_path)
    message = str(info.value)
    assert "ml-25m" in message
    for allowed in ("ml-100k", "ml-1m", "ml-20m"):
        assert allowed in message


# --------------------------------------------------------------------------------------------
# Strict validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maker", "missing", "other"),
    [
        (make_ml100k, "u.data", "u.item"),
        (make_ml100k, "u.item", "u.data"),
        (make_ml1m, "movies.dat", "ratings.dat"),
        (make_ml20m, "ratings.csv", "movies.csv"),
    ],
)
def test_missing_file_names_full_path(tmp_path: Path, maker, missing: str, other: str) -> None:
    folder = maker(tmp_path)
    (folder / missing).unlink()
    with pytest.raises(DataError) as info:
        load_grouplens(folder.name, folder)
    message = str(info.value)
    assert str((folder / missing).absolute()) in message
    assert other in message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="u.data"):
        load_ml100k(tmp_path / "nowhere")


# (bad line, expected line number, words the reason must contain)
BAD_RATINGS = {
    "too_few_fields": ("{u}{s}{i}{s}{r}", "field"),
    "too_many_fields": ("{u}{s}{i}{s}{r}{s}{t}{s}9", "field"),
    "non_numeric_user": ("abc{s}{i}{s}{r}{s}{t}", "user id"),
    "non_numeric_item": ("{u}{s}x7{s}{r}{s}{t}", "item id"),
    "rating_too_high": ("{u}{s}{i}{s}6{s}{t}", "rating"),
    "rating_zero": ("{u}{s}{i}{s}0{s}{t}", "rating"),
    "rating_not_number": ("{u}{s}{i}{s}good{s}{t}", "rating"),
    "blank_line": ("", "field"),
}
FORMATS = {
    # name: (maker, ratings file, separator, header lines, good rows)
    "ml-100k": (make_ml100k, "u.data", "\t", "", ML100K_RATINGS),
    "ml-1m": (make_ml1m, "ratings.dat", "::", "", ML1M_RATINGS),
    "ml-20m": (make_ml20m, "ratings.csv", ",", "userId,movieId,rating,timestamp\n", ML20M_RATINGS.split("\n", 1)[1]),
}


@pytest.mark.parametrize("dataset", list(FORMATS))
@pytest.mark.parametrize("kind", list(BAD_RATINGS))
def test_malformed_rating_row(tmp_path: Path, dataset: str, kind: str) -> None:
    maker, file_name, sep, header, good = FORMATS[dataset]
    template, reason = BAD_RATINGS[kind]
    bad = template.format(u=7, i=8, r=4, t=123456, s=sep)
    rows = good.splitlines()
    # The bad row is the third data row, followed by a good one so it is not the last line.
    text = header + "\n".join(rows[:2] + [bad] + rows[2:]) + "\n"
    folder = maker(tmp_path)
    (folder / file_name).write_text(text, encoding="latin-1")
    line_no = 3 + (1 if header else 0)
    with pytest.raises(DataError) as info:
        load_grouplens(dataset, folder)
    message = str(info.value)
    assert file_name in message
    assert f"line {line_no}:" in message
    assert reason in message
    assert repr(bad) in message


def test_malformed_ml1m_ratings_single_colon(tmp_path: Path) -> None:
    folder = make_ml1m(tmp_path, ratings="1::2::3::4\n1:2::3::4::5\n")
    with pytest.raises(DataError, match=r"ratings\.dat: line 2: .*'1:2::3::4::5'"):
        load_ml1m(folder)


def test_malformed_ml1m_ratings_tab(tmp_path: Path) -> None:
    folder = make_ml1m(tmp_path, ratings="1::2::3::4\n1\t2::3::4::5\n")
    with pytest.raises(DataError, match=r"ratings\.dat: line 2:"):
        load_ml1m(folder)


def test_ml20m_ratings_bad_header(tmp_path: Path) -> None:
    folder = make_ml20m(tmp_path, ratings="user,movie,rating,timestamp\n1,2,3,4\n")
    with pytest.raises(DataError, match=r"ratings\.csv: line 1: expected the header"):
        load_ml20m(folder)


def test_empty_ratings_file(tmp_path: Path) -> None:
    folder = make_ml100k(tmp_path, ratings="")
    with pytest.raises(DataError, match=r"u\.data"):
        load_ml100k(folder)


def test_non_positive_id(tmp_path: Path) -> None:
    folder = make_ml100k(tmp_path, ratings="1\t2\t3\t4\n0\t2\t3\t4\n")
    with pytest.raises(DataError, match=r"u\.data: line 2: user id 0 is not a positive integer"):
        load_ml100k(folder)


@pytest.mark.parametrize(
    ("dataset", "file_name", "content", "line_no", "reason"),
    [
        ("ml-100k", "u.item", ML100K_ITEMS + "5|Short|x\n", 5, "fields"),
        ("ml-100k", "u.item", f"x1|Title (1990)||||{_flags(1)}\n", 1, "item id"),
        ("ml-100k", "u.item", f"1|Title (1990)||||{_flags(1).replace('1', '2')}\n", 1, "0 or 1"),
        ("ml-100k", "u.item", ML100K_ITEMS + f"2|Again (1995)||||{_flags(1)}\n", 5, "already defined on line 2"),
        ("ml-1m", "movies.dat", ML1M_MOVIES + "5::No genres field\n", 5, "fields"),
        ("ml-1m", "movies.dat", "one::Title (1990)::Drama\n", 1, "item id"),
        ("ml-1m", "movies.dat", "1::Title (1990)::Drama||Comedy\n", 1, "empty genre"),
        ("ml-20m", "movies.csv", ML20M_MOVIES + "5,Only two\n", 7, "fields"),
        ("ml-20m", "movies.csv", ML20M_MOVIES + "abc,Title (1990),Drama\n", 7, "item id"),
        ("ml-20m", "movies.csv", "id,title,genres\n1,T,Drama\n", 1, "header"),
    ],
)
def test_malformed_items(
    tmp_path: Path, dataset: str, file_name: str, content: str, line_no: int, reason: str
) -> None:
    folder = {"ml-100k": make_ml100k, "ml-1m": make_ml1m, "ml-20m": make_ml20m}[dataset](tmp_path)
    encoding = "utf-8" if dataset == "ml-20m" else "latin-1"
    (folder / file_name).write_text(content, encoding=encoding)
    with pytest.raises(DataError) as info:
        load_grouplens(dataset, folder)
    message = str(info.value)
    assert file_name in message
    assert f"line {line_no}:" in message
    assert reason in message


# --------------------------------------------------------------------------------------------
# Archives and downloads (local 127.0.0.1 server only)
# --------------------------------------------------------------------------------------------


def test_archives_are_pinned() -> None:
    assert set(ARCHIVES) == {"ml-100k", "ml-1m", "ml-20m"}
    for name, archive in ARCHIVES.items():
        assert archive.name == name
        assert archive.folder == name
        assert archive.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
        assert archive.md5 is not None and len(archive.md5) == 32
        assert archive.sha256 is None or len(archive.sha256) == 64
    assert ARCHIVES["ml-1m"].sha256 == "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"
    assert ARCHIVES["ml-1m"].md5 == "c4d9eecfca2ab87c1945afe126590906"
    assert ARCHIVES["ml-100k"].md5 == "0e33842e24a9c977be4e0107933c0723"
    assert ARCHIVES["ml-20m"].md5 == "cd245b17a1ae2cc31bb14903e1204af3"
    with pytest.raises(FrozenInstanceError):
        ARCHIVES["ml-1m"].url = "http://elsewhere"  # type: ignore[misc]


@dataclass
class LocalServer:
    """A file server on 127.0.0.1 that records every requested path."""

    root: Path
    base_url: str
    requests: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        """Address of a served file."""
        return f"{self.base_url}/{name}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    """Serve tmp_path/served on 127.0.0.1 (ephemeral port) from a background thread."""
    root = tmp_path / "served"
    root.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        timeout = 10  # seconds per connection, so a stuck client cannot hang the test

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            requests.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep output quiet
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    host, port = httpd.server_address[:2]
    assert host == "127.0.0.1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield LocalServer(root=root, base_url=f"http://127.0.0.1:{port}", requests=requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


def zip_folder(folder: Path, archive: Path, extra: dict[str, bytes] | None = None) -> tuple[str, str]:
    """Zip ``folder`` under its own name (plus raw extra members); return (sha256, md5)."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(zipfile.ZipInfo(name), data)
    data = archive.read_bytes()
    return hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()


@pytest.fixture
def served_ml1m(tmp_path: Path, server: LocalServer) -> tuple[LocalServer, str, str]:
    """Serve a tiny ml-1m.zip; return (server, sha256, md5)."""
    folder = make_ml1m(tmp_path / "source")
    sha256, md5 = zip_folder(folder, server.root / "ml-1m.zip")
    return server, sha256, md5


def test_download_verifies_unpacks_and_loads(tmp_path: Path, served_ml1m) -> None:
    server, sha256, md5 = served_ml1m
    dest = tmp_path / "data"
    folder = download(
        "ml-1m", dest, url=server.url("ml-1m.zip"), sha256=sha256, md5=md5, progress=True, timeout=10
    )
    assert folder == (dest / "ml-1m").absolute()
    assert (dest / "ml-1m.zip").is_file()
    assert server.requests == ["/ml-1m.zip"]
    ratings, items = load_ml1m(folder)
    assert len(ratings) == 3 and len(items) == 4
    # Nothing but the archive and its folder is left in dest (no .part, no unpack dirs).
    assert sorted(p.name for p in dest.iterdir()) == ["ml-1m", "ml-1m.zip"]


def test_second_download_does_not_refetch(tmp_path: Path, served_ml1m) -> None:
    server, sha256, md5 = served_ml1m
    dest = tmp_path / "data"
    kwargs = dict(url=server.url("ml-1m.zip"), sha256=sha256, md5=md5, progress=False, timeout=10)
    first = download("ml-1m", dest, **kwargs)
    (first / "ratings.dat").unlink()  # a damaged extraction is repaired from the cached archive
    (first / ".grouplens-extracted").unlink()
    second = download("ml-1m", dest, **kwargs)
    third = download("ml-1m", dest, **kwargs)
    assert first == second == third
    assert len(server.requests) == 1
    assert len(load_ml1m(third)[0]) == 3


def test_corrupt_cached_archive_is_fetched_again(tmp_path: Path, served_ml1m) -> None:
    server, sha256, md5 = served_ml1m
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "ml-1m.zip").write_bytes(b"not the archive")
    with pytest.warns(UserWarning, match="mismatch"):
        folder = download(
            "ml-1m", dest, url=server.url("ml-1m.zip"), sha256=sha256, md5=md5, progress=False, timeout=10
        )
    assert len(server.requests) == 1
    assert len(load_ml1m(folder)[0]) == 3


@pytest.mark.parametrize("which", ["sha256", "md5"])
def test_wrong_checksum_raises_and_leaves_nothing(tmp_path: Path, served_ml1m, which: str) -> None:
    server, sha256, md5 = served_ml1m
    dest = tmp_path / "data"
    wrong = {"sha256": "0" * 64, "md5": "0" * 32}[which]
    checksums = {"sha256": sha256, "md5": md5, which: wrong}
    with pytest.raises(ChecksumError) as info:
        download("ml-1m", dest, url=server.url("ml-1m.zip"), progress=False, timeout=10, **checksums)
    message = str(info.value)
    assert "ml-1m.zip" in message
    assert wrong in message
    assert (sha256 if which == "sha256" else md5) in message
    assert list(dest.iterdir()) == []


def test_pinned_checksums_apply_to_url_override(tmp_path: Path, served_ml1m) -> None:
    server, sha256, _ = served_ml1m
    dest = tmp_path / "data"
    with pytest.raises(ChecksumError) as info:
        download("ml-1m", dest, url=server.url("ml-1m.zip"), progress=False, timeout=10)
    assert ARCHIVES["ml-1m"].sha256 in str(info.value)
    assert sha256 in str(info.value)
    assert list(dest.iterdir()) == []


def test_md5_only_warns_and_prints_sha256(tmp_path: Path, served_ml1m, capsys) -> None:
    server, sha256, md5 = served_ml1m
    with pytest.warns(UserWarning, match="no pinned SHA-256"):
        folder = download(
            "ml-1m", tmp_path / "data", url=server.url("ml-1m.zip"), md5=md5, progress=False, timeout=10
        )
    assert sha256 in capsys.readouterr().err
    assert (folder / "ratings.dat").is_file()


@pytest.mark.parametrize("member", ["../evil.txt", "ml-1m/../../evil.txt", "/abs-evil.txt", "C:/evil.txt"])
def test_zip_with_escaping_member_is_rejected(tmp_path: Path, server: LocalServer, member: str) -> None:
    folder = make_ml1m(tmp_path / "source")
    sha256, md5 = zip_folder(folder, server.root / "ml-1m.zip", extra={member: b"gotcha"})
    dest = tmp_path / "deep" / "data"
    with pytest.raises(DataError, match="refusing to unpack"):
        download("ml-1m", dest, url=server.url("ml-1m.zip"), sha256=sha256, md5=md5, progress=False, timeout=10)
    assert not list(tmp_path.rglob("*evil*"))
    assert not (dest / "ml-1m").exists()
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]


def test_zip_without_expected_folder(tmp_path: Path, server: LocalServer) -> None:
    folder = make_ml1m(tmp_path / "source")
    renamed = folder.rename(tmp_path / "source" / "other")
    sha256, md5 = zip_folder(renamed, server.root / "ml-1m.zip")
    with pytest.raises(DataError, match="expected a top-level folder 'ml-1m'"):
        download("ml-1m", tmp_path / "data", url=server.url("ml-1m.zip"), sha256=sha256, md5=md5, progress=False, timeout=10)


def test_download_http_error(tmp_path: Path, server: LocalServer) -> None:
    dest = tmp_path / "data"
    with pytest.raises(DataError, match="could not download"):
        download("ml-1m", dest, url=server.url("missing.zip"), md5="0" * 32, progress=False, timeout=10)
    assert list(dest.iterdir()) == []


def test_download_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ml-100k, ml-1m, ml-20m"):
        download("ml-25m", tmp_path)


def test_main_download(tmp_path: Path, served_ml1m, capsys) -> None:
    server, sha256, md5 = served_ml1m
    dest = tmp_path / "cli"
    argv = ["ml-1m", "--dest", str(dest), "--url", server.url("ml-1m.zip"),
            "--sha256", sha256, "--md5", md5, "--no-progress"]
    assert main_download(argv) == 0
    out = capsys.readouterr().out
    assert str((dest / "ml-1m").absolute()) in out
    # A leading "download" subcommand token is accepted; the second call is served from cache.
    assert main_download(["download", *argv]) == 0
    assert len(server.requests) == 1


def test_main_download_checksum_failure(tmp_path: Path, served_ml1m, capsys) -> None:
    server, _, md5 = served_ml1m
    argv = ["ml-1m", "--dest", str(tmp_path / "cli"), "--url", server.url("ml-1m.zip"),
            "--sha256", "f" * 64, "--no-progress"]
    assert main_download(argv) == 1
    assert "SHA-256 mismatch" in capsys.readouterr().err


def test_main_download_rejects_unknown_name(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main_download(["ml-25m"])
    assert info.value.code == 2
    assert "ml-100k" in capsys.readouterr().err


def test_module_exports() -> None:
    assert isinstance(ARCHIVES["ml-1m"], Archive)
    for name in grouplens.__all__:
        assert hasattr(grouplens, name)


@pytest.mark.parametrize("chunk", [2, 3, 1000])
def test_first_bad_line_wins_across_chunks(tmp_path: Path, monkeypatch, chunk: int) -> None:
    monkeypatch.setattr(grouplens, "_LOCATE_CHUNK", chunk)
    lines = [f"{u}\t{u + 1}\t4\t100" for u in range(1, 10)]
    lines[5] = "6\t7\t9\t100"  # out of range (parses fine), line 6
    lines[7] = "8\tnine\t4\t100"  # not numeric (makes the parse fail), line 8
    folder = make_ml100k(tmp_path, ratings="\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"u\.data: line 6: rating 9 is outside"):
        load_ml100k(folder)
    lines[5] = "6\t7\t4\t100"
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"u\.data: line 8: item id 'nine' is not an integer"):
        load_ml100k(folder)


RAW = {"ml-100k": ("u.data", "\t", 0), "ml-1m": ("ratings.dat", "::", 0), "ml-20m": ("ratings.csv", ",", 1)}


def raw_ratings(folder: Path, name: str) -> pd.DataFrame:
    file, sep, header = RAW[name]
    lines = (folder / file).read_text(encoding="latin-1").splitlines()[header:]
    rows = [line.split(sep) for line in lines]
    return pd.DataFrame({"user": [int(r[0]) for r in rows], "item": [int(r[1]) for r in rows],
                         "rating": [float(r[2]) for r in rows]})


@pytest.mark.parametrize("name", synthetic.LAYOUTS)
def test_each_layout_loads_through_the_download_path(tmp_path, name):
    data_dir = synthetic.prepare_download(name, tmp_path, **SMALL)
    data = datasets.load(name, data_dir)
    raw = raw_ratings(data_dir / name, name)
    assert data.name == name and len(data.ratings) == len(raw)
    assert data.n_users == raw["user"].nunique() and data.n_items == raw["item"].nunique()
    # the matrix holds exactly the file's ratings, under the original ids
    R = data.rating_matrix()
    users = data.users["raw_id"].to_numpy()[R.nonzero()[0]]
    items = data.items["raw_id"].to_numpy()[R.nonzero()[1]]
    got = pd.DataFrame({"user": users, "item": items, "rating": R.data.astype(float)})
    pd.testing.assert_frame_equal(got.sort_values(["user", "item"]).reset_index(drop=True),
                                  raw.sort_values(["user", "item"]).reset_index(drop=True))
    assert data.kg.empty and data.items["entity"].isna().all()
    assert data.genres == datasets.GENRES and data.genre_matrix().shape == (data.n_items, 18)
    assert data.genre_matrix().sum(axis=1).min() >= 1
    assert set(data.checksums) == {f"{name}.zip"}
    if name == "ml-20m":
        assert (data.ratings["rating"] % 1 == 0.5).any(), "half stars survive"


def test_ml20m_genre_names_become_the_books(tmp_path):
    data_dir = synthetic.prepare_download("ml-20m", tmp_path, **SMALL)
    movies = (data_dir / "ml-20m" / "movies.csv").read_text().splitlines()[1:]
    children = [int(line.split(",")[0]) for line in movies if "|Children" in line or ",Children" in line]
    data = datasets.load("ml-20m", data_dir)
    rows = data.items[data.items["raw_id"].isin(children)]
    assert len(rows) and all("Children's" in genres for genres in rows["genres"])


def test_genre_vocabulary_keeps_the_books_order_then_extra_genres():
    vocabulary = datasets.genre_vocabulary(pd.Series([["Drama", "IMAX"], ["Action"]], dtype=object))
    assert vocabulary == datasets.GENRES + ("IMAX",)


def test_a_damaged_or_missing_file_is_re_extracted_with_a_message(tmp_path, capsys):
    data_dir = synthetic.prepare_download("ml-1m", tmp_path, **SMALL)
    ratings = data_dir / "ml-1m" / "ratings.dat"
    good = ratings.read_bytes()
    for damage in (lambda: ratings.write_bytes(good[: len(good) // 2]), ratings.unlink,
                   lambda: ratings.write_bytes(good.replace(b"::5::", b"::1::", 1))):
        damage()
        datasets.load_grouplens.cache_clear()
        data = datasets.load("ml-1m", data_dir)
        assert ratings.read_bytes() == good and len(data.ratings) == good.count(b"\n")
        assert "ratings.dat: missing or damaged" in capsys.readouterr().err


def test_a_missing_or_changed_download_is_named(tmp_path):
    with pytest.raises(DataError, match=r"no ml-1m archive at .*run `python -m replication download ml-1m"):
        datasets.load("ml-1m", tmp_path / "nothing")
    data_dir = synthetic.prepare_download("ml-1m", tmp_path, **SMALL)
    with open(data_dir / "ml-1m.zip", "ab") as handle:
        handle.write(b"tampered")
    datasets.load_grouplens.cache_clear()
    with pytest.raises(DataError, match="was not unpacked from the verified"):
        datasets.load("ml-1m", data_dir)


def test_a_second_rating_of_the_same_film_names_the_line(tmp_path):
    folder = synthetic.write_grouplens("ml-1m", tmp_path / "src", **SMALL)
    lines = (folder / "ratings.dat").read_text(encoding="latin-1").splitlines()
    (folder / "ratings.dat").write_text("\n".join(lines + [lines[3]]) + "\n", encoding="latin-1")
    import hashlib
    import zipfile

    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())
    from replication import grouplens

    grouplens.download("ml-1m", tmp_path / "data", url=archive.as_uri(),
                       sha256=hashlib.sha256(archive.read_bytes()).hexdigest(), progress=False)
    user, item = lines[3].split("::")[:2]
    with pytest.raises(DataError, match=rf"ratings line {len(lines) + 1}: user {user} rates item {item} a second"):
        datasets.load("ml-1m", tmp_path / "data")
