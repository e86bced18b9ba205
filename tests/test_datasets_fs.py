"""cfds:// — dataset versions read in place through fsspec (pandas, pyarrow),
on mem://, file:// and S3 remotes, with corruption caught on ranged reads."""
from __future__ import annotations

import io
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
            "print(int(pd.read_parquet('cfds://flowers@v1/train/x.parquet', storage_options=opts)['x'].sum()))\n")
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
