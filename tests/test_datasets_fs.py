"""cfds:// — dataset versions read in place through fsspec (pandas, pyarrow),
on mem://, file:// and S3 remotes, with corruption caught on ranged reads."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest

from cloudfiles import CloudFiles
from cloudfiles.datasets import DatasetIntegrityError, Datasets
from cloudfiles.datasets.fs import DatasetFileSystem

REPO = str(Path(__file__).resolve().parents[1])


@pytest.fixture(params=["mem", "file", "s3"])
def remote(request, tmp_path):
    if request.param == "mem":
        return f"mem://cfds-{uuid.uuid4().hex[:8]}/remote", {}
    if request.param == "file":
        return "file://" + str(tmp_path / "remote"), {}
    server = request.getfixturevalue("s3_server")
    return server.cloudpath(server.make_bucket(), "datasets"), {"secrets": server.secrets}


def _version(store: Datasets, tmp: Path, files: dict, tag=None) -> str:
    src = tmp / f"src-{uuid.uuid4().hex[:6]}"
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    store.register(str(src), "flowers", force=True)
    return store.push("flowers", tag=tag)["version"]


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf)
    return buf.getvalue()


def test_read_versions_in_place(remote, tmp_path):
    url, kw = remote
    store = Datasets(remote=url, home=str(tmp_path / "home"), **kw)
    df1 = pd.DataFrame({"x": np.arange(500)})
    df2 = pd.DataFrame({"x": np.arange(500) * 2})
    v1 = _version(store, tmp_path, {"data/train/x.parquet": _parquet(df1), "data/train/sub/a.txt": b"one"},
                  tag="v1")
    v2 = _version(store, tmp_path, {"data/train/x.parquet": _parquet(df2), "data/test/b.txt": b"two"})
    fs = DatasetFileSystem(remote=url, home=str(tmp_path / "reader"), skip_instance_cache=True, **kw)

    assert pd.read_parquet(fs.open("flowers@v1/train/x.parquet")).equals(df1)
    assert pd.read_parquet(fs.open(f"flowers@{v2[:10]}/train/x.parquet")).equals(df2)
    assert pd.read_parquet(fs.open("flowers/train/x.parquet")).equals(df2)      # latest
    assert fs.cat_file("flowers@v1/train/sub/a.txt") == b"one"
    assert fs.cat_file("flowers@v1/train/sub/a.txt", start=1, end=3) == b"ne"
    assert fs.ls("flowers@v1", detail=False) == ["flowers@v1/train"]
    assert fs.ls("flowers@v1/train", detail=False) == ["flowers@v1/train/sub", "flowers@v1/train/x.parquet"]
    assert fs.find("flowers") == ["flowers/test/b.txt", "flowers/train/x.parquet"]
    assert fs.glob("flowers@v1/**/*.txt") == ["flowers@v1/train/sub/a.txt"]
    assert fs.info("flowers@v1/train")["type"] == "directory"
    assert fs.info("flowers@v1/train/sub/a.txt")["size"] == 3
    with pytest.raises(FileNotFoundError):
        fs.cat_file("flowers@v1/test/b.txt")          # only in v2
    with pytest.raises(Exception, match="immutable"):
        fs.open("flowers@v1/train/new.txt", "wb")
    assert not os.path.exists(tmp_path / "reader" / "flowers")   # nothing was pulled


def test_pandas_reads_cfds_urls_through_the_entry_point(remote, tmp_path):
    """A fresh interpreter that never imports cloudfiles: fsspec finds cfds:// by its entry point."""
    url, kw = remote
    if url.startswith("mem://"):
        pytest.skip("a child process cannot see this process's memory")
    store = Datasets(remote=url, home=str(tmp_path / "home"), **kw)
    df = pd.DataFrame({"x": np.arange(100)})
    _version(store, tmp_path, {"data/train/x.parquet": _parquet(df)}, tag="v1")
    code = ("import json, sys, pandas as pd\n"
            "opts = json.loads(sys.argv[1])\n"
            "print(int(pd.read_parquet('cfds://flowers@v1/train/x.parquet', storage_options=opts)['x'].sum()))\n"
            # pyarrow's thread pool can abort the interpreter's teardown after reading
            # through a Python file object (apache/arrow#34314); the result is already out.
            "sys.stdout.flush(); import os; os._exit(0)\n")
    import json

    opts = {"remote": url, "home": str(tmp_path / "child"), **kw}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(opts)], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=REPO), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == str(int(df["x"].sum()))


def test_corrupted_stored_object_caught_on_ranged_read(tmp_path):
    url = "file://" + str(tmp_path / "remote")
    store = Datasets(remote=url, home=str(tmp_path / "home"))
    data = os.urandom(300_000)
    v = _version(store, tmp_path, {"data/train/blob.bin": data})
    entry = store.resolve("flowers", v)["files"][0]
    stored = CloudFiles(url + "/flowers/")
    bad = bytearray(stored.get(entry["key"]))
    bad[200_000] ^= 0xFF                       # far from the range read below
    stored.put(entry["key"], bytes(bad))
    fs = DatasetFileSystem(remote=url, home=str(tmp_path / "reader"), skip_instance_cache=True)
    with pytest.raises(DatasetIntegrityError, match="does not match its manifest"):
        fs.cat_file("flowers/train/blob.bin", start=0, end=100)
    with pytest.raises(DatasetIntegrityError):
        fs.cat_file("flowers/train/blob.bin")
    with pytest.raises(DatasetIntegrityError):
        fs.open("flowers/train/blob.bin").read(10)


def test_bad_paths_are_refused(tmp_path):
    fs = DatasetFileSystem(remote="file://" + str(tmp_path / "r"), home=str(tmp_path / "h"),
                           skip_instance_cache=True)
    from cloudfiles.datasets import DatasetError

    for bad in ["", "../x/train/a", "flowers@../../v/train/a", "fl owers/train/a"]:
        with pytest.raises(DatasetError):
            fs.cat_file(bad)
    assert type(fsspec.filesystem("cfds", remote="file://" + str(tmp_path / "r"),
                                  home=str(tmp_path / "h"))) is DatasetFileSystem


def _reader(url, kw, tmp_path, sub="rw"):
    return DatasetFileSystem(remote=url, home=str(tmp_path / sub), skip_instance_cache=True, **kw)


def test_transaction_commits_one_new_version_and_moves_the_branch(remote, tmp_path):
    url, kw = remote
    store = Datasets(remote=url, home=str(tmp_path / "home"), **kw)
    v1 = _version(store, tmp_path, {"data/train/a.txt": b"a1", "data/train/b.txt": b"b1"}, tag="main")
    fs = _reader(url, kw, tmp_path)
    with fs.version_transaction("fix a, add c"):
        with fs.open("flowers@main/train/a.txt", "wb") as f:
            f.write(b"a2")
        fs.pipe_file("flowers@main/test/c.txt", b"c2")
        with fs.open("flowers@main/train/b.txt", "wb") as f:   # same bytes as b1: referenced, not re-sent
            f.write(b"b1")
        assert fs.cat_file("flowers@main/train/a.txt") == b"a1"    # nothing visible before commit
    tags = store.tags("flowers")
    v2 = tags["main"]
    assert v2 != v1 and tags["latest"] == v2
    m2 = store.resolve("flowers", v2)
    assert m2["parent"] == v1 and m2["message"] == "fix a, add c"
    by_path = {e["path"]: e for e in m2["files"]}
    m1 = {e["path"]: e for e in store.resolve("flowers", v1)["files"]}
    assert by_path["data/train/b.txt"]["key"] == m1["data/train/b.txt"]["key"]     # deduplicated
    assert fs.cat_file("flowers@main/train/a.txt") == b"a2"
    assert fs.cat_file(f"flowers@{v1}/train/a.txt") == b"a1"                       # old version intact
    assert fs.cat_file("flowers@main/test/c.txt") == b"c2"
    assert store.verify(f"flowers@{v2}", local=False)["ok"]
    assert [e["version"] for e in store.log("flowers@main")] == [v2, v1]


def test_transaction_that_raises_publishes_nothing(tmp_path):
    url = "file://" + str(tmp_path / "remote")
    store = Datasets(remote=url, home=str(tmp_path / "home"))
    v1 = _version(store, tmp_path, {"data/train/a.txt": b"a1"}, tag="main")
    fs = _reader(url, {}, tmp_path)
    with pytest.raises(RuntimeError):
        with fs.transaction:
            fs.pipe_file("flowers@main/train/a.txt", b"never")
            raise RuntimeError("boom")
    assert [v["version"] for v in store.versions("flowers")] == [v1]
    assert not any("never" in p.read_text(errors="ignore") for p in (tmp_path / "remote").rglob("*") if p.is_file())
    from cloudfiles.datasets import DatasetError

    with pytest.raises(DatasetError, match="transaction"):
        fs.pipe_file("flowers@main/train/a.txt", b"outside")


def test_start_and_end_transaction_publish_like_the_with_block(tmp_path):
    """fsspec's non-context form: writes between start_transaction() and end_transaction()
    become one version; after it, writes are refused again and no staging is left."""
    url = "file://" + str(tmp_path / "remote")
    store = Datasets(remote=url, home=str(tmp_path / "home"))
    v1 = _version(store, tmp_path, {"data/train/a.txt": b"a1"}, tag="main")
    fs = _reader(url, {}, tmp_path)
    txn = fs.start_transaction()
    fs.pipe_file("flowers@main/train/a.txt", b"a2")
    staging = Path(txn._staging)
    assert staging.is_dir()
    fs.end_transaction()
    v2 = store.tags("flowers")["main"]
    assert v2 != v1 and store.resolve("flowers", v2)["parent"] == v1
    assert fs.cat_file("flowers@main/train/a.txt") == b"a2"
    assert not staging.exists()
    from cloudfiles.datasets import DatasetError

    with pytest.raises(DatasetError, match="transaction"):
        fs.pipe_file("flowers@main/train/a.txt", b"outside")


_COMMITTER = """
import sys, time
from cloudfiles.datasets.fs import DatasetFileSystem
from cloudfiles.exceptions import PreconditionFailedError
fs = DatasetFileSystem(remote=sys.argv[1], home=sys.argv[2], skip_instance_cache=True)
try:
    with fs.transaction:
        fs.pipe_file("flowers@main/train/a.txt", sys.argv[3].encode())
        open(sys.argv[4], "w").close()
        while not all(__import__("os").path.exists(p) for p in sys.argv[5:]):
            time.sleep(0.01)
    print("won")
except PreconditionFailedError as err:
    print("lost")
"""


def test_conflicting_commits_from_two_processes_one_wins(tmp_path):
    url = "file://" + str(tmp_path / "remote")
    store = Datasets(remote=url, home=str(tmp_path / "home"))
    v1 = _version(store, tmp_path, {"data/train/a.txt": b"a1"}, tag="main")
    flags = [str(tmp_path / f"ready{i}") for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", _COMMITTER, url, str(tmp_path / f"h{i}"), f"from {i}",
                               flags[i], *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=REPO)) for i in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert sorted(o[0].strip() for o in outs) == ["lost", "won"], outs
    versions = [v["version"] for v in store.versions("flowers")]
    assert len(versions) == 2 and versions[0] == v1            # the loser published nothing
    winner = store.tags("flowers")["main"]
    assert winner == versions[1]
    fs = _reader(url, {}, tmp_path)
    assert fs.cat_file("flowers@main/train/a.txt") in (b"from 0", b"from 1")


def test_cli_branch_and_log(tmp_path):
    url = "file://" + str(tmp_path / "remote")
    store = Datasets(remote=url, home=str(tmp_path / "home"))
    v1 = _version(store, tmp_path, {"data/train/a.txt": b"a1"}, tag="v1")
    cli = [sys.executable, "-m", "cloudfiles_cli.main", "dataset", "--remote", url, "--home", str(tmp_path / "home")]
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run(cli + ["branch", "flowers", "v1", "exp"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip() == f"flowers@exp -> {v1}", out.stderr
    again = subprocess.run(cli + ["branch", "flowers", "v1", "exp"], capture_output=True, text=True, env=env)
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    fs = _reader(url, {}, tmp_path)
    with fs.version_transaction("second"):
        fs.pipe_file("flowers@exp/train/a.txt", b"a2")
    log = subprocess.run(cli + ["log", "flowers@exp", "--json"], capture_output=True, text=True, env=env)
    rows = json.loads(log.stdout)
    assert [r["message"] for r in rows] == ["second", None] and rows[1]["version"] == v1
    assert store.tags("flowers")["v1"] == v1                     # the branch moved, v1 did not
