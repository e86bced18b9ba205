"""Decompression bombs (issue 9): objects of a few MB that decode to 4 GiB of zeros.

Each case runs in a child process under RLIMIT_AS = 1 GiB and a timeout, so an
unbounded decoder fails the test (MemoryError, or killed) instead of taking
the machine's memory; the child reports what it saw as one JSON line.
The bombs are real, valid streams (correct CRCs and trailers), built in
seconds by repeating independently decodable blocks, frames or streams.
"""
from __future__ import annotations

import bz2
import json
import lzma
import os
import subprocess
import sys
import textwrap
import zlib

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MiB = 1 << 20
GiB = 1 << 30
BOMB_SIZE = 4 * GiB
AS_LIMIT = 1 * GiB
SUFFIX = {"gzip": ".gz", "br": ".br", "zstd": ".zstd", "xz": ".xz", "bzip2": ".bz2"}


def gzip_bomb(total: int = BOMB_SIZE, unit: int = MiB) -> bytes:
    """One gzip member: full-flushed deflate blocks of ``unit`` zeros (each
    block is identical after the first, as a full flush resets the window)."""
    zeros = bytes(unit)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    n = total // unit
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (total & 0xFFFFFFFF).to_bytes(4, "little")
    return header + first + block * (n - 1) + co.flush() + trailer


def zstd_bomb(total: int = BOMB_SIZE) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=1).compress(bytes(64 * MiB)) * (total // (64 * MiB))


def xz_bomb(total: int = BOMB_SIZE) -> bytes:
    return lzma.compress(bytes(64 * MiB), preset=0) * (total // (64 * MiB))


def bzip2_bomb(total: int = BOMB_SIZE) -> bytes:
    return bz2.compress(bytes(64 * MiB), 9) * (total // (64 * MiB))


def br_bomb(total: int = BOMB_SIZE) -> bytes:
    import brotli

    c = brotli.Compressor(quality=0)
    zeros = bytes(MiB)
    return b"".join(c.process(zeros) for _ in range(total // MiB)) + c.finish()


BUILDERS = {"gzip": gzip_bomb, "br": br_bomb, "zstd": zstd_bomb, "xz": xz_bomb, "bzip2": bzip2_bomb}

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from cloudfiles import CloudFiles, compression
    from cloudfiles.exceptions import DecompressionBombError
    cf = CloudFiles(sys.argv[1], **json.loads(sys.argv[3]))
    for mode in sys.argv[2].split(","):
        out = {{"mode": mode}}
        t = time.monotonic()
        try:
            if mode == "get":
                out["len"] = len(cf.get("obj"))
            elif mode == "stream":
                n = 0
                for chunk in cf.stream("obj"):
                    n += len(chunk)
                out["len"] = n
            elif mode == "decompress":
                out["len"] = len(compression.decompress(cf.get("obj", raw=True), sys.argv[4], "obj"))
        except DecompressionBombError as err:
            out.update(error="bomb", message=str(err), key=err.key, stored=err.stored_size, limit=err.limit)
        except MemoryError:
            out["error"] = "MemoryError"
        out["seconds"] = time.monotonic() - t
        out["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps(out), flush=True)
""")


def run_child(url: str, modes: str, kwargs: dict | None = None, extra: str = "", timeout: float = 120) -> list:
    """Run ``modes`` (comma-separated) in one limited child; one result dict per mode."""
    env = dict(os.environ, PYTHONPATH=REPO, MALLOC_ARENA_MAX="2")
    env.pop("CLOUDFILES_MAX_DECOMPRESSED_SIZE", None)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(limit=AS_LIMIT), url, modes, json.dumps(kwargs or {}), extra],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.strip().splitlines()]


@pytest.fixture(scope="module")
def bomb_root(tmp_path_factory):
    """One file:// root per encoding holding ``obj`` (stored as ``obj.<suffix>``)."""
    base = tmp_path_factory.mktemp("bombs")
    roots = {}
    for enc, build in BUILDERS.items():
        root = base / enc
        root.mkdir()
        (root / ("obj" + SUFFIX[enc])).write_bytes(build())
        roots[enc] = root
    return roots


@pytest.mark.timeout(600)
@pytest.mark.parametrize("enc", list(BUILDERS))
def test_bomb_fails_fast_in_bounded_memory(bomb_root, enc):
    root = bomb_root[enc]
    stored = (root / ("obj" + SUFFIX[enc])).stat().st_size
    assert stored < 5 * MiB  # a few MB that claim 4 GiB
    modes = "get,stream,decompress" if enc == "gzip" else "get,stream"
    for res in run_child(f"file://{root}", modes, extra=enc):
        assert res.get("error") == "bomb", res
        assert res["key"] == "obj" and "'obj'" in res["message"]
        assert str(f"{res['limit']:,}") in res["message"] and "max_decompressed_size" in res["message"]
        assert res["limit"] <= 512 * MiB  # the default: max(256 MiB, 100 x stored)
        assert res["maxrss"] < AS_LIMIT
        assert res["seconds"] < 60
        if res["mode"] != "stream":
            assert res["stored"] == stored


def test_raising_the_limit_lets_a_highly_compressed_object_through(tmp_path):
    """300 MiB of zeros (about 300 KB of gzip) is over the default bound
    (the 256 MiB floor); ``max_decompressed_size`` lets it through."""
    obj = gzip_bomb(300 * MiB)
    (tmp_path / "obj.gz").write_bytes(obj)
    url = f"file://{tmp_path}"
    assert run_child(url, "get")[0]["error"] == "bomb"
    res, = run_child(url, "get", {"max_decompressed_size": "400M"})
    assert res.get("error") is None and res["len"] == 300 * MiB, res


@pytest.mark.timeout(300)
def test_legitimate_large_object_streams_in_bounded_memory(tmp_path):
    """1.07 GiB decoded (more than the child's whole address space) at a normal
    ratio (~50:1) streams through ``stream()`` under RLIMIT_AS = 1 GiB."""
    unit = bytearray(MiB)
    unit[: 20 * 1024] = os.urandom(20 * 1024)  # 20 KiB of noise per MiB: ratio about 50
    unit = bytes(unit)
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = co.compress(unit) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(unit) + co.flush(zlib.Z_FULL_FLUSH)
    n = 1100
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(unit, crc)
    data = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + first + block * (n - 1) + co.flush()
            + crc.to_bytes(4, "little") + ((n * MiB) & 0xFFFFFFFF).to_bytes(4, "little"))
    (tmp_path / "obj.gz").write_bytes(data)
    res, = run_child(f"file://{tmp_path}", "stream", timeout=240)
    assert res.get("error") is None, res
    assert res["len"] == n * MiB
    assert res["maxrss"] < AS_LIMIT
