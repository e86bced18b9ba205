"""Keys that would resolve outside a file:// root are refused for every operation."""
from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import CloudFilesError, TransferError, UnsafeKeyError

pytestmark = pytest.mark.timeout(60)

BAD_KEYS = ["/abs/x", "../escape", "a/../../b", "a//b", "./a", "a/\0b", "a/" * 2000 + "x"]


@pytest.fixture
def layout(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"SECRET")
    os.symlink(outside, root / "out")
    (root / "linked").symlink_to(outside / "secret")
    return root, outside


def _ops(cf: CloudFiles, key: str, tmp):
    yield "get", lambda: cf.get(key)
    yield "get_range", lambda: cf.get({"path": key, "start": 0, "end": 3})
    yield "put", lambda: cf.put(key, b"x")
    yield "puts", lambda: cf.puts([(key, b"x")])
    yield "delete", lambda: cf.delete(key)
    yield "exists", lambda: cf.exists(key)
    yield "size", lambda: cf.size(key)
    yield "head", lambda: cf.head(key)
    yield "touch", lambda: cf.touch(key)
    yield "open", lambda: cf.open(key).read()
    yield "open_w", lambda: cf.open(key, "wb").close()
    yield "download_file", lambda: cf.download_file(key, str(tmp / "dl"))


def _snapshot(d):
    return sorted((p, open(os.path.join(p), "rb").read() if os.path.isfile(p) else None)
                  for p in (os.path.join(r, n) for r, ds, fs in os.walk(d) for n in fs))


@pytest.mark.parametrize("key", BAD_KEYS + [os.path.join("out", "secret"), "out/new", "linked"])
def test_every_operation_refuses_escaping_key(layout, tmp_path, key):
    root, outside = layout
    cf = CloudFiles(f"file://{root}")
    before = _snapshot(outside)
    for name, op in _ops(cf, key, tmp_path):
        with pytest.raises(CloudFilesError) as info:
            op()
        err = info.value
        if isinstance(err, TransferError):
            err = next(iter(err.errors.values()))
        assert isinstance(err, UnsafeKeyError), (name, err)
        assert repr(key[:40])[1:-1] in str(err) or key[:40] in str(err), (name, str(err))
    assert _snapshot(outside) == before
    assert not (tmp_path / "escape").exists() and not (tmp_path / "b").exists()


def test_backslash_stays_literal(layout):
    root, _ = layout
    cf = CloudFiles(f"file://{root}")
    cf.put("a\\..\\..\\b", b"1")
    assert (root / "a\\..\\..\\b").read_bytes() == b"1"
    assert cf.get("a\\..\\..\\b") == b"1"


def test_list_prefix_through_symlink_out_refused(layout):
    root, _ = layout
    cf = CloudFiles(f"file://{root}")
    with pytest.raises(UnsafeKeyError):
        list(cf.list("out/"))
    with pytest.raises(UnsafeKeyError):
        list(cf.list("../"))


def test_huge_range_is_cloudfiles_error(layout):
    root, _ = layout
    cf = CloudFiles(f"file://{root}")
    cf.put("f", b"abc")
    with pytest.raises(CloudFilesError):
        cf.get({"path": "f", "start": 2**63, "end": 2**63 + 5})


def test_untrusted_source_listing_never_writes_outside_dest(tmp_path):
    """A source listing (here a mem:// store) with hostile keys: each is a per-file error."""
    home = tmp_path / "home"
    home.mkdir()
    bashrc = home / ".bashrc"
    bashrc.write_bytes(b"ORIGINAL")
    dest = tmp_path / "dest" / "d"
    dest.mkdir(parents=True)
    src = CloudFiles("mem://hostile-listing")
    hostile = [str(bashrc), "../escape", "a/../../b", "a//b"]
    for k in hostile + ["good/one"]:
        src.put(k, b"EVIL")
    dst = CloudFiles(f"file://{dest}")
    with pytest.raises(TransferError) as info:
        src.transfer_to(dst)
    assert set(info.value.errors) == set(hostile)
    assert all(isinstance(e, UnsafeKeyError) for e in info.value.errors.values())
    assert bashrc.read_bytes() == b"ORIGINAL"
    assert (dest / "good" / "one").read_bytes() == b"EVIL"
    assert sorted(os.listdir(tmp_path)) == ["dest", "home"]
    assert os.listdir(tmp_path / "dest") == ["d"]
