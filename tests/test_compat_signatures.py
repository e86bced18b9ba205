"""The meaning behind the cloud-files 6.4.3 parameters tests/test_signatures.py checks by name
(issue 10): resume tokens, recordings, touch(nocopy), put's positional order, CloudFile options."""
from __future__ import annotations

import os
import time

import pytest

import cloudfiles.interfaces
from cloudfiles import CloudFile, CloudFiles, clear_memory, exceptions
from cloudfiles.monitoring import IOEnum, TransmissionMonitor


@pytest.fixture(params=["mem", "file"])
def cf(request, tmp_path):
    if request.param == "mem":
        clear_memory()
        return CloudFiles(f"mem://sig-{os.getpid()}/d")
    return CloudFiles("file://" + str(tmp_path / "d"))


def test_resume_token_continues_after_the_item(cf):
    keys = [f"k{i:02d}" for i in range(12)] + ["sub/x", "sub/y"]
    cf.puts([(k, k.encode()) for k in keys])
    listed = list(cf.list(return_resume_token=True))
    assert [k for k, _ in listed] == sorted(keys)
    # stop after five, resume from the fifth's token: the rest, each once
    first = listed[:5]
    rest = list(cf.list(resume_token=first[-1][1]))
    assert [k for k, _ in first] + rest == sorted(keys)
    with_sizes = list(cf.list(size=True, return_resume_token=True))
    assert [(k, n) for k, n, _ in with_sizes] == [(k, len(k)) for k in sorted(keys)]
    assert list(cf.list("sub/", resume_token=with_sizes[-2][2])) == ["sub/y"]
    with pytest.raises(exceptions.InvalidInputError, match="resume_token"):
        list(cf.list(resume_token=3))


def test_get_puts_get_acl_recordings(cf):
    n, tm = cf.puts([(f"f{i}", b"x" * (i + 1)) for i in range(5)], return_recording=True)
    assert n == 5 and isinstance(tm, TransmissionMonitor) and tm.direction is IOEnum.TX
    assert tm.total_bytes() == sum(range(1, 6)) and len(tm.intervals()) == 5
    before = time.time()
    results, rx = cf.get([f"f{i}" for i in range(5)] + ["missing"], return_recording=True)
    assert {r["path"] for r in results} == {f"f{i}" for i in range(5)} | {"missing"}
    assert rx.total_bytes() == 15 and len(rx.intervals()) == 6
    assert rx.total_bps() > 0 and rx.start_unix_time() <= rx.end_unix_time() <= time.time() + 1
    assert rx.start_unix_time() >= before - 1
    content, one = cf.get("f4", return_recording=True)
    assert content == b"xxxxx" and one.total_bytes() == 5
    merged = TransmissionMonitor.merge([tm, rx])
    assert merged.total_bytes() == 30 and len(merged.intervals()) == 11
    acl, atm = cf.get_acl(["f0", "f1"], return_recording=True)
    assert set(acl) == {"f0", "f1"} and len(atm.intervals()) == 2
    n, jtm = cf.put_jsons([("j", {"a": 1})], return_recording=True)
    assert n == 1 and cf.get_json("j") == {"a": 1} and jtm.total_bytes() == len(cf.get("j", raw=True))


def test_failed_get_is_recorded_as_an_error(tmp_path):
    cf = CloudFiles("file://" + str(tmp_path))
    (tmp_path / "bad.gz").write_bytes(b"not gzip")
    results, tm = cf.get(["bad"], return_recording=True)
    assert results[0]["error"] is not None
    assert tm.num_errors() == 1 and tm.total_bytes() == 0


def test_touch_nocopy_leaves_existing_files_alone(tmp_path):
    cf = CloudFiles("file://" + str(tmp_path))
    cf.put("old", b"data")
    past = time.time() - 3600
    os.utime(tmp_path / "old", (past, past))
    cf.touch(["old", "new"], nocopy=True)
    assert os.path.getmtime(tmp_path / "old") == pytest.approx(past)
    assert cf.get("new") == b"" and cf.get("old") == b"data"
    cf.touch(["old"], None, 1)  # (paths, progress, total) as the reference orders them
    assert os.path.getmtime(tmp_path / "old") > past + 1000


def test_put_positional_order_is_the_references(cf):
    # put(path, content, content_type, compress, compression_level, cache_control, raw, storage_class)
    import gzip

    cf.put("g", gzip.compress(b"hello"), None, "gzip", None, None, True)
    assert cf.get("g") == b"hello"
    assert cf.get("g", raw=True)[:2] == b"\x1f\x8b"


def test_put_jsons_raw_skips_compression(cf):
    # as the reference: the JSON text is stored as it is (raw=True bypasses the compressor)
    cf.put_jsons([("r.json", {"x": 2})], compress="gzip", raw=True)
    cf.put_jsons([("c.json", {"x": 2})], compress="gzip")
    assert cf.get("r.json", raw=True) == b'{"x": 2}'
    assert cf.get("c.json", raw=True)[:2] == b"\x1f\x8b"


def test_abspath_and_cloudfile_helpers(tmp_path):
    cf = CloudFiles("file://" + str(tmp_path))
    assert cf.abspath(path="a/b") == cf.abspath("a/b") == "file://" + str(tmp_path / "a" / "b")
    f = CloudFile("file://" + str(tmp_path / "x.bin"))
    assert f.dirname("a/b/c") == "a/b" and f.basename("a/b/c") == "c"
    with pytest.raises(TypeError):
        f.dirname()  # os.path.dirname needs a path, as the reference's does
    f.put(b"123")
    f.transfer_to(cloudpath="file://" + str(tmp_path / "y.bin"))
    g = CloudFile("file://" + str(tmp_path / "z.bin"))
    g.transfer_from(cloudpath="file://" + str(tmp_path / "y.bin"))
    assert g.get() == b"123"


def test_cloudfile_explicit_options_reach_cloudfiles(tmp_path):
    f = CloudFile("file://" + str(tmp_path / "x"), locking=True, lock_dir=str(tmp_path / "locks"),
                  composite_upload_threshold=1234)
    assert f.cf.locking is True and f.lock_dir == str(tmp_path / "locks")
    assert f.cf.composite_upload_threshold == 1234
    assert CloudFile("file://" + str(tmp_path / "x")).cf.locking is None
    with pytest.raises(TypeError, match="nonsense"):
        CloudFile("file://" + str(tmp_path / "x"), nonsense=1)


def test_defaults_that_match_the_reference(tmp_path):
    assert CloudFiles("file://" + str(tmp_path)).composite_upload_threshold == int(1e8)
    assert CloudFiles("gs://bucket/x", no_sign_request=True).num_threads == 20


def test_interfaces_reset_connection_pools():
    from cloudfiles import connections

    pool = connections.pool_manager(("sig-test",))
    assert connections.pool_manager(("sig-test",)) is pool
    cloudfiles.interfaces.reset_connection_pools()  # as clients call it
    assert connections.pool_manager(("sig-test",)) is not pool
