"""Transfers between backends: encodings, failures, resuming, processes, server-side copies.

Runs against file://, mem:// and the real local S3 and GCS servers (tests/stores/).
"""
from __future__ import annotations

import os
import uuid

import pytest

from cloudfiles import CloudFiles, exceptions
from cloudfiles.transfer import TransferResult, transfer



@pytest.fixture
def make_cf(tmp_path, request):
    """``make_cf(kind)`` -> a CloudFiles at a fresh, empty location of that kind."""
    def make(kind: str, **kwargs) -> CloudFiles:
        name = uuid.uuid4().hex[:10]
        if kind == "file":
            return CloudFiles("file://" + str(tmp_path / name), **kwargs)
        if kind == "mem":
            return CloudFiles(f"mem://transfer-{name}/p", **kwargs)
        if kind == "s3":
            server = request.getfixturevalue("s3_server")
            bucket = server.make_bucket()
            return CloudFiles(server.cloudpath(bucket, "p"), secrets=server.secrets, **kwargs)
        if kind == "gcs":
            server = request.getfixturevalue("gcs_server")
            request.getfixturevalue("monkeypatch").setenv("STORAGE_EMULATOR_HOST", server.endpoint)
            return CloudFiles(f"gs://{server.create_bucket()}/p", **kwargs)
        raise AssertionError(kind)
    return make


def _fill(cf: CloudFiles, n: int = 30) -> dict:
    files = {f"d/{i:03d}": b"content %d " % i * (i + 1) for i in range(n)}
    files["d/empty"] = b""
    files["d/ünï cödé"] = "ü".encode() * 5
    cf.puts([{"path": k, "content": v, "compress": "gzip" if i % 3 == 0 else None}
             for i, (k, v) in enumerate(files.items())])
    return files


@pytest.mark.parametrize("src_kind,dest_kind", [("file", "s3"), ("s3", "file"), ("s3", "s3"), ("file", "mem"),
                                               ("gcs", "s3"), ("gcs", "gcs")])
def test_roundtrip_keeps_encoding(make_cf, src_kind, dest_kind):
    src, dest = make_cf(src_kind), make_cf(dest_kind)
    files = _fill(src)
    res = transfer(src, dest)
    assert res.ok and res.transferred == len(files) and res.skipped == 0
    for k, v in files.items():
        assert dest.get(k) == v
        assert dest.get(k, raw=True) == src.get(k, raw=True)  # compressed bytes moved as they are
    if src_kind == dest_kind:
        assert res.server_side == len(files)


def test_interrupted_transfer_resumes_without_resending(make_cf):
    """A generator that dies after 10 files interrupts the run; the re-run sends only the rest."""
    for src_kind, dest_kind in [("file", "s3"), ("s3", "file"), ("file", "file")]:
        src, dest = make_cf(src_kind), make_cf(dest_kind)
        files = _fill(src)
        keys = sorted(files)

        def dying():
            for i, k in enumerate(keys):
                if i == 10:
                    raise KeyboardInterrupt("simulated crash")
                yield k

        with pytest.raises(KeyboardInterrupt):
            transfer(src, dest, dying(), block_size=1)
        arrived = [k for k in keys if dest.exists(k)]
        assert 1 <= len(arrived) <= 10

        res = transfer(src, dest, keys, skip_existing=True)
        assert res.skipped == len(arrived), (src_kind, dest_kind)
        assert res.transferred == len(keys) - len(arrived)
        assert sorted(res.skipped_paths) == sorted(arrived)
        assert all(dest.get(k) == v for k, v in files.items())

        again = transfer(src, dest, skip_existing=True)  # listing both sides
        assert again.transferred == 0 and again.skipped == len(keys)


@pytest.mark.parametrize("dest_kind", ["file", "s3", "gcs"])
def test_resume_compares_checksums_not_just_size(make_cf, dest_kind):
    src, dest = make_cf("file"), make_cf(dest_kind)
    src.puts([(f"f{i}", b"abcdefgh%02d" % i) for i in range(20)])
    transfer(src, dest)
    dest.put("f3", b"ABCDEFGH03")           # same size, different bytes
    dest.delete("f4")                       # missing
    dest.put("f5", b"short")                # different size
    by_size = transfer(src, dest, skip_existing="size")
    assert by_size.transferred == 2 and by_size.skipped == 18   # f4, f5; f3 fooled the size check
    dest.put("f3", b"ABCDEFGH03")
    res = transfer(src, dest, skip_existing=True)
    assert res.transferred == 1 and res.skipped == 19 and dest.get("f3") == b"abcdefgh03"
    dest.put("f7", b"XXXXXXXXXX")
    res = transfer(src, dest, skip_existing="exists")        # no-clobber: keep whatever is there
    assert res.transferred == 0 and dest.get("f7") == b"XXXXXXXXXX"


def test_reencode_semantics(make_cf):
    src, dest = make_cf("mem"), make_cf("file")
    src.put("a", b"x" * 100, compress="br")
    src.put("b", b"y" * 100)
    transfer(src, dest, reencode=None)
    assert dest.get("a", raw=True) == src.get("a", raw=True)
    for off in ("none", False, "identity"):
        transfer(src, dest, reencode=off)
        assert dest.get("a", raw=True) == b"x" * 100
        assert os.path.exists(os.path.join(dest.path.path, "a"))
    transfer(src, dest, reencode="gzip")
    assert dest.get("b", raw=True)[:2] == b"\x1f\x8b" and dest.get("b") == b"y" * 100
    transfer(src, dest, reencode="same")
    assert dest.get("b", raw=True) == b"y" * 100
    # Resume across a re-encoding compares decoded content.
    transfer(src, dest, reencode="zstd")
    res = transfer(src, dest, reencode="zstd", skip_existing=True)
    assert res.skipped == 2 and res.transferred == 0
    with pytest.raises(exceptions.UnsupportedCompressionType, match="lz4"):
        transfer(src, dest, reencode="lz4")


def test_failures_are_collected_after_attempting_all(make_cf):
    src, dest = make_cf("file"), make_cf("mem")
    src.puts([(f"k{i}", b"v") for i in range(10)])
    with pytest.raises(exceptions.TransferError) as info:
        transfer(src, dest, [f"k{i}" for i in range(10)] + ["nope1", "nope2"])
    err = info.value
    assert set(err.errors) == {"nope1", "nope2"}
    assert isinstance(err.result, TransferResult) and err.result.transferred == 10
    assert "does not exist" in str(err.errors["nope1"])
    res = transfer(src, dest, ["k1", "nope1"], allow_missing=True)
    assert res.missing == ["nope1"] and res.transferred == 1


def test_bad_arguments_are_named(make_cf):
    src, dest = make_cf("mem"), make_cf("mem")
    with pytest.raises(exceptions.InvalidInputError, match="block_size"):
        transfer(src, dest, block_size=0)
    with pytest.raises(exceptions.InvalidInputError, match="skip_existing"):
        transfer(src, dest, skip_existing="maybe")
    with pytest.raises(exceptions.InvalidInputError, match="transfer paths"):
        transfer(src, dest, [42])


def test_destination_names_and_tuples(make_cf):
    src, dest = make_cf("file"), make_cf("s3")
    src.put("a/b/c.txt", b"1")
    res = transfer(src, dest, [("a/b/c.txt", "x.txt"), {"path": "a/b/c.txt", "dest_path": "y/z.txt"}],
                   content_type="text/plain")
    assert res.transferred == 2
    assert dest.get("x.txt") == b"1" and dest.head("y/z.txt")["Content-Type"] == "text/plain"


def test_parallel_processes(make_cf):
    src, dest = make_cf("file"), make_cf("file")
    files = _fill(src, 40)
    res = transfer(src, dest, parallel=2, block_size=4)
    assert res.transferred == len(files) and res.ok
    assert {k: dest.get(k) for k in files} == files
    res = transfer(src, dest, parallel=2, skip_existing=True)
    assert res.skipped == len(files)


def test_large_objects_stream_in_parts(make_cf):
    src = make_cf("file", large_threshold=64 * 1024, part_size=64 * 1024)
    dest = make_cf("s3", part_size=5 * 1024 * 1024)
    big = os.urandom(300 * 1024)
    src.put("big", big)
    src.put("small", b"s")
    res = transfer(src, dest)
    assert res.transferred == 2 and dest.get("big") == big
    back = make_cf("file")
    assert transfer(dest, back).transferred == 2 and back.get("big") == big


def test_move_deletes_only_what_arrived(make_cf):
    src, dest = make_cf("file"), make_cf("mem")
    src.puts([("a", b"1"), ("b", b"2")])
    with pytest.raises(exceptions.TransferError):
        src.moves(dest, ["a", "missing"])
    assert not src.exists("a") and src.exists("b") and dest.get("a") == b"1"


def test_file_writes_recreate_a_directory_removed_behind_their_back(tmp_path):
    """The file backend remembers directories it made; one removed since (rm -r by
    someone else) is made again for puts, server-side copies and multipart writes."""
    import shutil

    src = CloudFiles("file://" + str(tmp_path / "src"))
    dest = CloudFiles("file://" + str(tmp_path / "dest"), part_size=1024, large_threshold=1024)
    src.put("d/a", b"a" * 10)
    dest.put("d/x", b"x")
    shutil.rmtree(tmp_path / "dest" / "d")
    src.transfer_to(dest, paths=["d/a"])                 # copy_within
    assert dest.get("d/a") == b"a" * 10
    shutil.rmtree(tmp_path / "dest" / "d")
    with dest.open("d/big", "wb") as f:                  # multipart
        f.write(b"z" * 5000)
    assert dest.get("d/big") == b"z" * 5000
    shutil.rmtree(tmp_path / "dest" / "d")
    dest.put("d/y", b"y")                                # put
    assert dest.get("d/y") == b"y"
