"""The behaviour every backend must share, defined once and run against each
(file, mem, and the real local servers of the network backends)."""
from __future__ import annotations

import gzip
import json

import pytest

from cloudfiles import CloudFiles, exceptions
from cloudfiles.compression import decompress

ENCODINGS = [None, "gzip", "br", "zstd", "xz", "bzip2"]


def need_write(store):
    if not store.writable:
        pytest.skip(f"{store.name} is read-only")


def test_put_get_roundtrip(store):
    w, cf = store.writer(), store.cf()
    w.put("hello.txt", b"hello world")
    w.put("unicode.txt", "héllo ☃")
    w.put("empty", b"")
    assert cf.get("hello.txt") == b"hello world"
    assert cf.get("unicode.txt") == "héllo ☃".encode()
    assert cf.get("empty") == b""
    assert cf["hello.txt"] == b"hello world"


def test_missing_file_is_none_not_error(store):
    cf = store.cf()
    assert cf.get("nope") is None
    [res] = cf.get(["nope"])
    assert res["content"] is None and res["error"] is None and res["path"] == "nope"
    assert cf.exists("nope") is False
    assert cf.size("nope") is None
    assert cf.head("nope") is None


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_compression_roundtrip(store, encoding):
    w, cf = store.writer(), store.cf()
    data = b"the quick brown fox " * 200
    w.put("f", data, compress=encoding)
    assert cf.get("f") == data
    raw = cf.get("f", raw=True)
    if encoding:
        assert raw != data and decompress(raw, encoding) == data
    else:
        assert raw == data
    [res] = cf.get(["f"], raw=True)
    assert res["compress"] == encoding and res["content"] == raw


def test_compress_true_means_gzip_and_level(store):
    w, cf = store.writer(), store.cf()
    data = bytes(range(256)) * 64
    w.put("a", data, compress=True, compression_level=9)
    raw = cf.get("a", raw=True)
    assert raw[:2] == b"\x1f\x8b" and gzip.decompress(raw) == data


def test_byte_ranges(store):
    w, cf = store.writer(), store.cf()
    w.put("r", b"0123456789")
    assert cf["r", 0:5] == b"01234"
    assert cf.get({"path": "r", "start": 5}) == b"56789"
    assert cf.get({"path": "r", "end": 3}) == b"012"
    assert cf.get({"path": "r", "start": -3}) == b"789"
    assert cf.get({"path": "r", "start": 8, "end": 100}) == b"89"
    res = cf.get([{"path": "r", "start": 2, "end": 4}, {"path": "r", "start": 6, "end": 7}])
    got = {r["byte_range"]: r["content"] for r in res}
    assert got == {(2, 4): b"23", (6, 7): b"6"}


def test_ranges_on_compressed_files_address_decoded_bytes(store):
    w, cf = store.writer(), store.cf()
    w.put("c", b"abcdefghij" * 10, compress="gzip")
    assert cf["c", 10:15] == b"abcde"
    assert cf.get({"path": "c", "start": -2}) == b"ij"


def test_bad_range_is_a_clear_error(store):
    w, cf = store.writer(), store.cf()
    w.put("r", b"0123456789")
    with pytest.raises(exceptions.BadRangeError, match="before start"):
        cf.get({"path": "r", "start": 5, "end": 2})
    res = cf.get([{"path": "r", "start": 5, "end": 2}, "r"])
    errs = {r["byte_range"]: r["error"] for r in res}
    assert isinstance(errs[(5, 2)], exceptions.BadRangeError)
    assert errs[(None, None)] is None


def test_exists_size_head(store):
    w, cf = store.writer(), store.cf()
    w.put("a", b"12345")
    w.put("z", b"x" * 1000, compress="gzip")
    assert cf.exists("a") is True
    assert cf.exists(["a", "b", "z"]) == {"a": True, "b": False, "z": True}
    assert cf.size("a") == 5
    sizes = cf.size(["a", "b", "z"])
    assert sizes["a"] == 5 and sizes["b"] is None and 0 < sizes["z"] < 1000
    head = cf.head("z")
    assert head["Content-Encoding"] == "gzip"
    assert head["Content-Length"] == sizes["z"]
    assert set(cf.head(["a", "b"])) == {"a", "b"}


def test_metadata_from_put(store):
    if not store.keeps_metadata:
        pytest.skip(f"{store.name} does not store content types")
    w, cf = store.writer(), store.cf()
    w.put("m.json", b"{}", content_type="application/json", cache_control="no-cache")
    head = cf.head("m.json")
    assert head["Content-Type"] == "application/json"
    assert head["Cache-Control"] == "no-cache"


def test_delete(store):
    need_write(store)
    cf = store.cf()
    cf.puts([(f"d/{i}", b"x") for i in range(10)], compress="gzip")
    cf.put("keep", b"k")
    cf.delete("d/0")
    assert cf.exists("d/0") is False
    cf.delete([f"d/{i}" for i in range(1, 10)] + ["never-existed"])
    assert list(cf.list("d/")) == []
    del cf["keep"]
    assert cf.get("keep") is None
    cf.delete("keep")  # deleting a missing file is fine


def test_list(store):
    if not store.listable:
        pytest.skip(f"{store.name} has no listing")
    w, cf = store.writer(), store.cf()
    names = ["a", "b/c", "b/d/e", "bb", "c.json"]
    w.puts([(n, b"1") for n in names], compress="gzip")
    assert list(cf.list()) == sorted(names)
    assert list(cf) == sorted(names)
    assert list(cf.list("b")) == ["b/c", "b/d/e", "bb"]
    assert list(cf.list("b/")) == ["b/c", "b/d/e"]
    assert list(cf.list(flat=True)) == ["a", "b/", "bb", "c.json"]
    assert list(cf.list("b/", flat=True)) == ["b/c", "b/d/"]
    assert list(cf.list("zzz")) == []
    assert cf.isdir("b") and cf.isdir("b/d/") and not cf.isdir("bb") and not cf.isdir("nope")


def test_get_many_and_generators(store):
    w, cf = store.writer(), store.cf()
    w.puts(({"path": f"g/{i}", "content": str(i)} for i in range(50)), total=50)
    res = cf.get((f"g/{i}" for i in range(50)), total=50)
    assert sorted(r["path"] for r in res) == sorted(f"g/{i}" for i in range(50))
    assert all(r["error"] is None and r["content"] == r["path"][2:].encode() for r in res)
    assert cf.get([f"g/{i}" for i in range(3)], return_dict=True) == {f"g/{i}": str(i).encode() for i in range(3)}


def test_json(store):
    w, cf = store.writer(), store.cf()
    w.put_json("one.json", {"a": [1, 2]})
    w.put_jsons([(f"j{i}", {"i": i}) for i in range(20)], compress="br")
    w.put_jsons({"path": "d.json", "content": [1]})
    assert cf.get_json("one.json") == {"a": [1, 2]}
    order = [f"j{i}" for i in reversed(range(20))] + ["missing"]
    assert cf.get_json(order) == [{"i": i} for i in reversed(range(20))] + [None]
    assert cf.get_json("d.json") == [1]
    if store.keeps_metadata:
        assert cf.head("one.json")["Content-Type"] == "application/json"


def test_puts_mixed_tuples_and_dicts(store):
    need_write(store)
    cf = store.cf()
    n = cf.puts([("t1", b"a"), {"path": "t2", "content": b"b", "compress": "zstd"}, ("t3", "c")],
                compress="gzip")
    assert n == 3
    assert cf.get(["t1"])[0]["content"] == b"a"
    assert cf.get("t2", raw=True)[:4] == b"\x28\xb5\x2f\xfd"  # zstd magic: dict field wins
    assert cf.get("t3", raw=True)[:2] == b"\x1f\x8b"
    cf.puts(("single", b"s"))
    assert cf.get("single") == b"s"


@pytest.mark.parametrize("bad, match", [
    ([("x1", b"1"), ("x1", b"2")], "duplicate path 'x1'"),
    ([("x1", b"1"), ("x2", 12345)], "content for 'x2' must be bytes or str, got int"),
    ([("x1", b"1"), {"path": "x2", "content": b"", "compress": "lz4"}], "unknown compression 'lz4'"),
    ([("x1", b"1"), {"path": "x2", "content": b"", "colour": "red"}], "unknown put option"),
    ([("x1", b"1"), {"path": "x2", "content": b"", "compress": "gzip", "compression_level": 99}], "out of range"),
])
def test_bad_puts_write_nothing(store, bad, match):
    need_write(store)
    cf = store.cf()
    if cf.backend.features.python_objects and "must be bytes" in match:
        pytest.skip("mem:// stores non-bytes content as the Python object (see test_compat_facade)")
    with pytest.raises(exceptions.InvalidInputError, match=match):
        cf.puts(bad)
    assert cf.exists(["x1", "x2"]) == {"x1": False, "x2": False}


def test_bad_single_put(store):
    need_write(store)
    cf = store.cf()
    with pytest.raises(exceptions.UnsupportedCompressionType, match="'snappy'"):
        cf.put("x", b"1", compress="snappy")
    if cf.backend.features.python_objects:
        with pytest.raises(exceptions.InvalidInputError, match="stored uncompressed only"):
            cf.put("x", {"a": 1}, compress="gzip")
    else:
        with pytest.raises(exceptions.InvalidInputError, match="bytes or str"):
            cf.put("x", {"a": 1})
    assert cf.exists("x") is False


def test_item_access(store):
    need_write(store)
    cf = store.cf()
    cf["k1"] = b"v1"
    cf["k2"] = b"v2"
    cf["k3"] = b"v3"
    assert cf["k1", 0:1] == b"v"
    first_two = cf[:2]
    assert sorted(r["path"] for r in first_two) == ["k1", "k2"]
    del cf["k1"]
    assert cf.exists("k1") is False


def test_touch(store):
    need_write(store)
    cf = store.cf()
    cf.put("exists", b"data")
    cf.touch(["exists", "new"])
    assert cf.get("exists") == b"data"
    assert cf.get("new") == b""


def test_transfer_keeps_encoding(store, tmp_path):
    cf = store.cf()
    w = cf if store.writable else store.writer()
    w.puts([(f"t/{i}", b"payload %d" % i) for i in range(20)], compress="br")
    w.put("t/plain", b"plain")
    dest = CloudFiles("file://" + str(tmp_path / "dest"))
    result = cf.transfer_to(dest)
    assert result.transferred == 21 and result.ok
    assert dest.get("t/3", raw=True) == cf.get("t/3", raw=True)
    assert (tmp_path / "dest" / "t" / "3.br").exists()
    if not store.writable:
        return  # the rest transfers into the store
    back = store.cf()
    back.delete(list(cf.list()))
    back.transfer_from(dest, reencode="gzip")
    assert back.get("t/5") == b"payload 5"
    assert back.get("t/5", raw=True)[:2] == b"\x1f\x8b"
    assert back.get("t/plain", raw=True)[:2] == b"\x1f\x8b"


def test_transfer_missing_files(store):
    cf = store.cf()
    store.writer().put("there", b"1")
    dest = CloudFiles("mem://transfer-missing/" + store.name)
    with pytest.raises(exceptions.CloudFilesError, match="does not exist"):
        cf.transfer_to(dest, ["there", "absent"])
    res = cf.transfer_to(dest, ["there", "absent"], allow_missing=True)
    assert res.transferred == 1 and res.missing == ["absent"]


def test_move(store):
    need_write(store)
    cf = store.cf()
    cf.put("m1", b"moving", compress="gzip")
    cf.move("m1", "m2")
    assert cf.get("m2") == b"moving" and cf.exists("m1") is False


@pytest.mark.parametrize("mode", ["threads", "green", "single"])
def test_concurrency_modes(store, mode):
    kwargs = {"threads": {"num_threads": 8}, "green": {"green": True, "num_threads": 8},
              "single": {"num_threads": 1}}[mode]
    cf = store.cf(**kwargs)
    files = [(f"c/{i}", json.dumps(i)) for i in range(120)]
    assert (cf if store.writable else store.writer()).puts(files, compress="gzip") == 120
    got = cf.get([p for p, _ in files])
    assert {r["path"]: r["content"] for r in got} == {p: c.encode() for p, c in files}
    assert all(cf.exists([p for p, _ in files]).values())
    if not store.writable:
        return
    cf.delete([p for p, _ in files])
    assert not any(cf.exists([p for p, _ in files]).values())


def test_processes(store):
    cf = store.cf(parallel=2)
    files = [(f"p/{i}", b"%d" % i) for i in range(40)]
    (cf if store.writable else store.writer()).puts(files)
    got = cf.get([p for p, _ in files])
    assert sorted((r["path"], r["content"]) for r in got) == sorted(files)
    assert all(store.cf().exists([p for p, _ in files]).values())
