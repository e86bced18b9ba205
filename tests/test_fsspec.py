"""cloudfiles.fsspec on file://, mem://, S3 (moto) and GCS (emulator), driven
through fsspec itself and the libraries that use it (pandas, pyarrow, zarr 3)."""
from __future__ import annotations

import gzip
import os

import fsspec
import numpy as np
import pandas as pd
import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import InvalidInputError
from cloudfiles.fsspec import CloudFilesFileSystem, filesystem_class, register

BACKENDS = ["file", "mem", "s3", "gcs"]


@pytest.fixture
def registered():
    """register() for one test, then give the protocols back to their previous owners."""
    saved = {}

    def reg(proto):
        try:
            saved.setdefault(proto, fsspec.get_filesystem_class(proto))
        except (ImportError, ValueError):
            saved.setdefault(proto, None)
        register(proto)

    yield reg
    for proto, cls in saved.items():
        if cls is not None:
            fsspec.register_implementation(proto, cls, clobber=True)


@pytest.fixture(params=BACKENDS)
def fsroot(request):
    """(filesystem, root path inside it, CloudFiles of the same root)."""
    store = request.getfixturevalue(f"store_{request.param}")
    if request.param == "file":
        root = store.url[len("file://"):]
        return CloudFilesFileSystem("file"), root, store.cf()
    if request.param == "s3":
        server = store.extra["server"]
        fs = CloudFilesFileSystem("s3", endpoint=server.endpoint, secrets=server.secrets, skip_instance_cache=True)
        return fs, f"{store.extra['bucket']}/prefix", store.cf()
    proto, _, rest = store.url.partition("://")
    return CloudFilesFileSystem(proto, skip_instance_cache=True), rest, store.cf()


def test_pipe_cat_ranges_info(fsroot):
    fs, root, cf = fsroot
    fs.pipe_file(f"{root}/d/x.bin", b"0123456789")
    assert cf.get("d/x.bin") == b"0123456789"      # the same object CloudFiles sees
    assert fs.cat_file(f"{root}/d/x.bin") == b"0123456789"
    assert fs.cat_file(f"{root}/d/x.bin", start=2, end=5) == b"234"
    assert fs.cat_file(f"{root}/d/x.bin", start=-3) == b"789"
    assert fs.cat_file(f"{root}/d/x.bin", start=1, end=-1) == b"12345678"
    info = fs.info(f"{root}/d/x.bin")
    assert (info["type"], info["size"]) == ("file", 10)
    assert fs.info(f"{root}/d")["type"] == "directory"
    assert fs.isdir(f"{root}/d") and fs.isfile(f"{root}/d/x.bin") and not fs.exists(f"{root}/nope")
    with pytest.raises(FileNotFoundError):
        fs.cat_file(f"{root}/nope")
    with pytest.raises(FileNotFoundError):
        fs.info(f"{root}/nope")


def test_ls_find_glob_rm(fsroot):
    fs, root, cf = fsroot
    cf.puts([("a.txt", b"a"), ("sub/b.txt", b"bb"), ("sub/deep/c.csv", b"ccc")])
    listed = fs.ls(root, detail=True)
    assert {(e["name"].rsplit("/", 1)[-1], e["type"]) for e in listed} == {("a.txt", "file"), ("sub", "directory")}
    assert [e["size"] for e in listed if e["type"] == "file"] == [1]
    assert fs.find(root) == [f"{root}/a.txt", f"{root}/sub/b.txt", f"{root}/sub/deep/c.csv"]
    assert f"{root}/sub/deep" in fs.find(root, withdirs=True)
    assert fs.find(root, maxdepth=1) == [f"{root}/a.txt"]
    assert fs.glob(f"{root}/**/*.csv") == [f"{root}/sub/deep/c.csv"]
    assert fs.du(root) == 6
    fs.rm(f"{root}/sub", recursive=True)
    assert list(cf.list()) == ["a.txt"]
    fs.rm_file(f"{root}/a.txt")
    assert not fs.exists(f"{root}/a.txt")


def test_open_read_random_access_and_multipart_write(fsroot):
    fs, root, cf = fsroot
    data = os.urandom(3 * 1024 * 1024 + 17)
    with fs.open(f"{root}/big.bin", "wb", block_size=5 * 1024 * 1024) as f:
        for i in range(0, len(data), 1 << 20):
            f.write(data[i:i + (1 << 20)])
    assert cf.get("big.bin") == data
    with fs.open(f"{root}/big.bin", "rb", block_size=256 * 1024) as f:
        f.seek(len(data) - 100)
        assert f.read() == data[-100:]
        f.seek(12345)
        assert f.read(1000) == data[12345:13345]
    with fs.open(f"{root}/t.txt", "w") as f:
        f.write("héllo\n")
    assert fs.open(f"{root}/t.txt", "r").read() == "héllo\n"


def test_failed_write_leaves_nothing(fsroot):
    fs, root, cf = fsroot
    with pytest.raises(RuntimeError):
        with fs.open(f"{root}/partial.bin", "wb") as f:
            f.write(b"x" * 100)
            raise RuntimeError("boom")
    assert cf.exists("partial.bin") is False


def test_compressed_objects_read_decoded(fsroot):
    fs, root, cf = fsroot
    text = b"line of text\n" * 5000
    cf.put("z.txt", text, compress="gzip")
    assert fs.cat_file(f"{root}/z.txt") == text
    assert fs.cat_file(f"{root}/z.txt", start=13, end=26) == b"line of text\n"
    with fs.open(f"{root}/z.txt", "rb") as f:
        assert f.size == len(text)
        f.seek(len(text) - 5)
        assert f.read() == text[-5:]
    assert fs.info(f"{root}/z.txt")["content_encoding"] == "gzip"


def test_cp_file_and_cat_many(fsroot):
    fs, root, cf = fsroot
    cf.puts([(f"m/{i}", bytes([i]) * i) for i in range(1, 30)])
    fs.cp_file(f"{root}/m/5", f"{root}/copy/5")
    assert cf.get("copy/5") == b"\x05" * 5
    got = fs.cat([f"{root}/m/{i}" for i in range(1, 30)])
    assert got == {f"{root}/m/{i}": bytes([i]) * i for i in range(1, 30)}
    with pytest.raises(FileNotFoundError):
        fs.cat([f"{root}/m/1", f"{root}/m/missing"])
    assert fs.cat([f"{root}/m/1", f"{root}/m/missing"], on_error="omit") == {f"{root}/m/1": b"\x01"}
    with pytest.raises(FileNotFoundError):
        fs.cp_file(f"{root}/m/missing", f"{root}/copy/x")


def test_makedirs_is_a_noop_on_object_semantics(fsroot):
    fs, root, cf = fsroot
    fs.makedirs(f"{root}/newdir", exist_ok=True)
    cf.put("there/x", b"1")
    with pytest.raises(FileExistsError):
        fs.makedirs(f"{root}/there", exist_ok=False)
    with pytest.raises(FileExistsError):
        fs.pipe_file(f"{root}/there/x", b"2", mode="create")
    assert cf.get("there/x") == b"1"


def test_pandas_csv_parquet_and_zarr(fsroot, registered):
    fs, root, cf = fsroot
    proto = fs.cf_protocol
    registered(proto)
    opts = dict(fs.cf_options)
    url = f"{proto}://{root}"
    df = pd.DataFrame({"a": np.arange(1000), "b": np.random.default_rng(1).random(1000)})
    df.to_parquet(f"{url}/t.parquet", storage_options=opts)
    assert pd.read_parquet(f"{url}/t.parquet", storage_options=opts).equals(df)
    if proto == "file":  # pandas opens file:// URLs with urllib itself, so hand it our file objects
        with fs.open(f"{root}/t.csv", "w") as f:
            df.to_csv(f, index=False)
        with fs.open(f"{root}/t.csv", "rb") as f:
            back = pd.read_csv(f)
    else:
        df.to_csv(f"{url}/t.csv", index=False, storage_options=opts)
        back = pd.read_csv(f"{url}/t.csv", storage_options=opts)
    assert np.allclose(back["b"], df["b"]) and (back["a"] == df["a"]).all()

    import zarr

    store = zarr.storage.FsspecStore.from_url(f"{url}/arr", storage_options=opts)
    z = zarr.open_array(store=store, mode="w", shape=(40, 40), chunks=(10, 10), dtype="i4")
    z[:] = np.arange(1600).reshape(40, 40)
    z2 = zarr.open_array(store=zarr.storage.FsspecStore.from_url(f"{url}/arr", storage_options=opts), mode="r")
    assert (z2[5:25, 3:33] == np.arange(1600).reshape(40, 40)[5:25, 3:33]).all()


def test_dask_dataframe_read_parquet(store_mem, registered):
    dd = pytest.importorskip("dask.dataframe")
    registered("mem")
    root = store_mem.url
    df = pd.DataFrame({"x": np.arange(100)})
    df.to_parquet(f"{root}/p.parquet")
    assert type(fsspec.filesystem("mem")).__module__ == "cloudfiles.fsspec"
    assert dd.read_parquet(f"{root}/p.parquet").compute()["x"].tolist() == list(range(100))


def test_options_are_checked():
    with pytest.raises(TypeError, match="endpont"):
        CloudFilesFileSystem("s3", endpont="http://x")
    with pytest.raises(InvalidInputError):
        CloudFilesFileSystem("ftp")
    with pytest.raises(InvalidInputError):
        filesystem_class("ftp")
    assert CloudFilesFileSystem("mem").unstrip_protocol("b/k") == "mem://b/k"
    assert CloudFilesFileSystem("file").unstrip_protocol("/tmp/k") == "file:///tmp/k"
    assert type(CloudFilesFileSystem("gs"))._strip_protocol("gcs://b/k/") == "b/k"


def test_docs_examples_run_verbatim(registered):
    """The mem:// examples of docs/fsspec.md, as written (the s3 one needs a real endpoint)."""
    import re

    registered("mem")
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "fsspec.md")).read()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    ns: dict = {}
    exec(blocks[0], ns)
    assert ns["fs"].cat_file("bucket/dir/a.txt", start=0, end=5) == b"hello"
    exec(blocks[2], ns)
    assert ns["z"][99, 99] == 9999
