"""cloud-files 6.4.3 facade behaviours (issue 10), beyond the reference suite: real files and mem://."""
from __future__ import annotations

import os
import stat
import threading

import pytest

from cloudfiles import CloudFile, CloudFiles, clear_memory, exceptions, reset_connection_pools
from cloudfiles.locking import lock_name


@pytest.fixture(params=["mem", "file"])
def cf(request, tmp_path):
    if request.param == "mem":
        clear_memory()
        return CloudFiles(f"mem://compat-{os.getpid()}/d")
    return CloudFiles("file://" + str(tmp_path / "d"))


def test_num_threads_zero_runs_in_calling_thread(cf):
    c0 = CloudFiles(cf.cloudpath, num_threads=0)
    seen = set()
    orig = c0.backend.get

    def spy(*a, **k):
        seen.add(threading.get_ident())
        return orig(*a, **k)

    c0.backend.get = spy
    c0.puts([(str(i), b"x") for i in range(10)])
    assert all(r["error"] is None for r in c0.get([str(i) for i in range(10)]))
    assert seen == {threading.get_ident()}
    with pytest.raises(exceptions.InvalidInputError, match="num_threads"):
        CloudFiles(cf.cloudpath, num_threads=-1)


def test_tags_pass_through_and_default_none(cf):
    cf.put("a", b"1")
    assert cf.get(["a"])[0]["tags"] is None
    assert cf.get([{"path": "a", "tags": {"k": 1}}])[0]["tags"] == {"k": 1}
    assert cf.get([{"path": "missing", "tags": 7}])[0]["tags"] == 7


def test_get_raise_errors_return_dict_part_size(cf):
    cf.put("ok", b"1")
    cf.put("bad", b"not gzip", compress="gzip", raw=True)
    res = {r["path"]: r for r in cf.get(["ok", "bad"])}
    assert isinstance(res["bad"]["error"], exceptions.DecompressionError)
    with pytest.raises(exceptions.DecompressionError):
        cf.get(["ok", "bad"], raise_errors=True)
    with pytest.raises(exceptions.DecompressionError):
        cf.get(["bad"], return_dict=True)
    assert cf.get(["ok"], part_size=8 * 1024 * 1024)[0]["content"] == b"1"
    with pytest.raises(exceptions.InvalidInputError, match="part_size"):
        cf.get("ok", part_size=0)


def test_transfer_allow_missing(cf, tmp_path):
    cf.put("here", b"1")
    dest = "file://" + str(tmp_path / "dest")
    with pytest.raises(FileNotFoundError) as info:
        cf.transfer_to(dest, paths=["here", "dne"])
    assert isinstance(info.value, exceptions.TransferError)
    assert set(info.value.errors) == {"dne"}
    res = cf.transfer_to(dest, paths=["here", "dne"], allow_missing=True)
    assert res.missing == ["dne"]
    assert not CloudFiles(dest).exists("dne")  # not created empty (the reference writes b'')
    assert CloudFiles(dest).get("here") == b"1"


def test_move_to_full_path_and_moves(cf):
    cf.puts([("hello", b"world"), ("lamp", b"e")])
    cf.move("hello", cf.cloudpath.rstrip("/") + "/sub/hola")
    assert cf.get("sub/hola") == b"world" and not cf.exists("hello")
    cf.moves(cf.cloudpath, [("lamp", "lampara")])
    assert cf.exists(["lamp", "lampara"]) == {"lamp": False, "lampara": True}
    CloudFile(cf.cloudpath.rstrip("/") + "/lampara").move(cf.cloudpath.rstrip("/") + "/x")
    assert cf.get("x") == b"e"


def test_flat_listing_of_a_directory_prefix(cf):
    cf.puts([("build/info3", b"1"), ("build/sub/x", b"2"), ("info", b"3")])
    assert set(cf.list("build", flat=True)) == {"build/info3", "build/sub/"}
    assert set(cf.list("bui", flat=True)) == {"build/"}
    cf.put("build.txt", b"4")  # more than the directory matches: not entered
    assert set(cf.list("build", flat=True)) == {"build/", "build.txt"}
    assert dict(cf.list("", flat=False, size=True))["info"] == 1


def test_sizes_subtree_sep_join(cf):
    cf.puts([("a/1", b"12"), ("a/2", b"345"), ("b", b"6")])
    assert cf.size(["a/1", "a/2", "nope"], return_sum=True) == 5
    assert cf.subtree_size("a/") == {"N": 2, "num_bytes": 5}
    assert cf.subtree_size(["a/", "b"]) == {"N": 3, "num_bytes": 6}
    assert cf.sep == (os.sep if cf.protocol == "file" else "/")
    assert cf.basename(cf.join("x", "y")) == "y" and cf.dirname(cf.join("x", "y")) == "x"


def test_get_acl(cf):
    cf.put("f", b"1")
    acl = cf.get_acl(["f", "nope"])
    assert acl["nope"] is None
    if cf.protocol == "file":
        assert stat.S_ISREG(acl["f"])
    else:
        assert acl["f"] is None
    with pytest.raises(exceptions.UnsupportedOperationError):
        CloudFiles("https://example.invalid/x").get_acl("f")


def test_locking_uses_reference_lock_names(tmp_path):
    lock_dir = str(tmp_path / "locks")
    cf = CloudFiles("file://" + str(tmp_path / "d"), locking=True, lock_dir=lock_dir)
    cf.put("hello.txt", b"hi", compress="gzip")
    assert cf.get("hello.txt") == b"hi"
    target = os.path.join(str(tmp_path / "d"), "hello.txt")
    assert os.listdir(lock_dir) == [lock_name(target)]
    assert lock_name(target).startswith("hello.txt.")
    cf.clear_locks()
    assert os.listdir(lock_dir) == []
    assert CloudFiles("file://" + str(tmp_path), lock_dir=lock_dir).lock_dir == lock_dir


def test_lock_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_FILES_DIR", str(tmp_path / "home"))
    monkeypatch.delenv("CLOUD_FILES_LOCK_DIR", raising=False)
    assert CloudFiles("file://" + str(tmp_path)).lock_dir == str(tmp_path / "home" / "locks")
    monkeypatch.setenv("CLOUD_FILES_LOCK_DIR", str(tmp_path / "elsewhere"))
    assert CloudFiles("file://" + str(tmp_path)).lock_dir == str(tmp_path / "elsewhere")


def test_mem_stores_python_objects():
    clear_memory()
    cf = CloudFiles("mem://objs/x")
    cf.put("s", {1, 2, 3}, raw=True)
    cf["d"] = {"a": [1]}
    assert cf.get("s") == {1, 2, 3} and cf["d"] == {"a": [1]}
    with pytest.raises(exceptions.InvalidInputError, match="uncompressed"):
        cf.put("z", {1}, compress="gzip")
    clear_memory()
    assert CloudFiles("mem://objs/x").get("s") is None


def test_put_options_cache_control_bool_and_numpy_json(cf):
    np = pytest.importorskip("numpy")
    cf.put("a", b"1", cache_control=True)
    cf.put("b", b"1", cache_control=False)
    cf.put_json("j", {"n": np.int64(3), "arr": np.arange(3), "f": np.float32(0.5)})
    assert cf.get_json("j") == {"n": 3, "arr": [0, 1, 2], "f": 0.5}


def test_unknown_keyword_is_a_type_error(cf):
    with pytest.raises(TypeError, match="num_thread"):
        CloudFiles(cf.cloudpath, num_thread=4)
    with pytest.raises(TypeError, match="bogus"):
        CloudFile(cf.cloudpath.rstrip("/") + "/f", bogus=1)


def test_reset_connection_pools_keeps_clients_working(cf):
    cf.put("a", b"1")
    reset_connection_pools()
    cf.reset_connection_pools()
    assert cf.get("a") == b"1"


def test_cloudfile_surface(cf):
    base = cf.cloudpath.rstrip("/")
    f = CloudFile(base + "/src", cache_meta=True)
    f.put(b"0123456789")
    assert [r["content"] for r in f.get([slice(0, 3), {"start": 5, "end": 7}])] == [b"012", b"56"]
    assert f.get(start=2, end=4) == b"23" and f[1:3] == b"12"
    assert f.size() == 10
    cf.put("src", b"changed-size")
    assert f.size() == 10  # cached
    g = CloudFile(base + "/copy")
    g.transfer_from(base + "/src")
    assert g.get() == b"changed-size"
    assert g.sep == cf.sep and g.basename(g.cloudpath) == "copy"
    assert list(g.get_acl()) == ["copy"]  # {filename: acl}, as cloud-files returns
    with pytest.raises(exceptions.InvalidInputError):
        f.get(3)
