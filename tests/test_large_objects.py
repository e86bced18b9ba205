"""Large-object streaming on every backend: parallel ranged reads, parallel
multipart writes, atomic downloads, aborts that leave nothing behind, and
memory that stays bounded."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import pytest

from cloudfiles import CloudFiles, exceptions

MiB = 1024 * 1024


def data_of(n: int, seed: int = 1) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 4096  # 128 KiB, incompressible-ish pattern
    return (block * (n // len(block) + 1))[:n]


def small_parts(store, **kw):
    # The smallest part size a backend accepts keeps these tests quick.
    return store.cf(part_size=kw.pop("part_size", 256 * 1024), part_threads=4, large_threshold=0, **kw)


def at_least_parts(store, n: int, parts: int = 2) -> int:
    """``n`` bytes, or enough for ``parts`` full parts where the backend has a
    minimum part size (S3: 5 MiB), so multipart really happens everywhere."""
    return max(n, parts * store.cf().backend.features.min_part_size)


def need_write(store):
    if not store.writable:
        pytest.skip(f"{store.name} is read-only")


@pytest.mark.parametrize("compress", [None, "gzip", "zstd"])
def test_writer_and_reader_roundtrip(store, compress):
    need_write(store)
    cf = small_parts(store)
    data = data_of(at_least_parts(store, 3 * MiB) + 12345)
    with cf.open("big.bin", "wb", compress=compress) as f:
        for i in range(0, len(data), 100_000):
            f.write(data[i:i + 100_000])
    assert cf.get("big.bin") == data
    with cf.open("big.bin", "rb") as f:
        assert f.read(10) == data[:10]
        assert f.read() == data[10:]
    assert b"".join(cf.stream("big.bin")) == data
    if compress:
        assert cf.head("big.bin")["Content-Encoding"] == compress


def test_download_and_upload_file(store, tmp_path):
    need_write(store)
    cf = small_parts(store)
    data = data_of(at_least_parts(store, 2 * MiB) + 7, seed=2)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    assert cf.upload_file(str(src), "up.bin") == len(data)
    out = tmp_path / "sub" / "out.bin"
    assert cf.download_file("up.bin", str(out)) == len(data)
    assert out.read_bytes() == data
    assert os.listdir(out.parent) == ["out.bin"]  # no temporary files left


def test_put_accepts_streams(store, tmp_path):
    need_write(store)
    cf = small_parts(store)
    chunks = [data_of(300_000, seed=i) for i in range(5)]
    cf.put("gen.bin", (c for c in chunks), compress="br")
    assert cf.get("gen.bin") == b"".join(chunks)
    p = tmp_path / "f.bin"
    p.write_bytes(b"x" * 1000)
    with open(p, "rb") as fh:
        cf.put("fileobj.bin", fh)
    assert cf.get("fileobj.bin") == b"x" * 1000  # smaller than a part: one ordinary put


def test_failed_upload_leaves_no_object(store):
    need_write(store)
    cf = small_parts(store)
    with pytest.raises(RuntimeError, match="interrupted"):
        with cf.open("partial.bin", "wb") as f:
            f.write(data_of(at_least_parts(store, 2 * MiB)))
            raise RuntimeError("interrupted")
    assert cf.exists("partial.bin") is False
    assert [k for k in cf.list() if "partial" in k] == []

    def failing():
        yield data_of(at_least_parts(store, 2 * MiB))
        raise ValueError("source broke")

    with pytest.raises(ValueError, match="source broke"):
        cf.put("partial2.bin", failing())
    assert cf.exists("partial2.bin") is False


def test_reads_of_missing_objects(store):
    cf = small_parts(store)
    with pytest.raises(exceptions.NotFoundError):
        cf.open("nope.bin", "rb").read()
    with pytest.raises(exceptions.NotFoundError):
        list(cf.stream("nope.bin"))


def test_bad_mode(store):
    with pytest.raises(exceptions.InvalidInputError, match="mode"):
        store.cf().open("x", "a")


PEAK_SCRIPT = textwrap.dedent("""
    import resource, sys, time
    from cloudfiles import CloudFiles
    cf = CloudFiles(sys.argv[1], part_size=4 * 1024 * 1024, part_threads=4)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = cf.download_file("huge.bin", sys.argv[2])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(n, base, peak)
""")


def test_download_memory_is_bounded(tmp_path):
    """A 160 MiB download with a 4 x 4 MiB part budget: peak RSS grows by far
    less than the object (the budget plus slack), never by the object's size."""
    src = tmp_path / "src"
    src.mkdir()
    size = 160 * MiB
    with open(src / "huge.bin", "wb") as f:
        for i in range(size // MiB):
            f.write(data_of(MiB, seed=i))
    script = tmp_path / "peak.py"
    script.write_text(PEAK_SCRIPT)
    out = subprocess.run([sys.executable, str(script), "file://" + str(src), str(tmp_path / "out.bin")],
                         capture_output=True, text=True, check=True)
    n, base_kb, peak_kb = map(int, out.stdout.split())
    assert n == size
    growth_mib = (peak_kb - base_kb) / 1024
    assert growth_mib < 48, f"peak RSS grew by {growth_mib:.0f} MiB for a {size // MiB} MiB object"
    assert (tmp_path / "out.bin").stat().st_size == size


def test_http_download_memory_is_bounded(http_server, tmp_path):
    """The same budget holds for a 160 MiB download from a web server (nginx):
    parts stream through ranged GETs into place, never the whole object."""
    directory, url = http_server.fresh()
    size = 160 * MiB
    try:
        with open(directory / "huge.bin", "wb") as f:
            for i in range(size // MiB):
                f.write(data_of(MiB, seed=i))
        script = tmp_path / "peak.py"
        script.write_text(PEAK_SCRIPT)
        out = subprocess.run([sys.executable, str(script), url, str(tmp_path / "out.bin")],
                             capture_output=True, text=True, check=True)
        n, base_kb, peak_kb = map(int, out.stdout.split())
        assert n == size
        growth_mib = (peak_kb - base_kb) / 1024
        assert growth_mib < 48, f"peak RSS grew by {growth_mib:.0f} MiB for a {size // MiB} MiB object"
        with open(directory / "huge.bin", "rb") as a, open(tmp_path / "out.bin", "rb") as b:
            while True:
                x, y = a.read(8 * MiB), b.read(8 * MiB)
                assert x == y
                if not x:
                    break
    finally:
        (directory / "huge.bin").unlink()
