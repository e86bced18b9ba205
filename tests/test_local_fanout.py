"""file:// batch deletes (one directory read per batch, every stored name removed) and
the cap on local fan-out (cloudfiles/localcap.py) whatever ``num_threads`` says."""
from __future__ import annotations

import gzip
import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import CloudFilesError


def test_batch_delete_removes_every_stored_name_across_directories(tmp_path):
    cf = CloudFiles("file://" + str(tmp_path), num_threads=20)
    keys = [f"d{i % 3}/f{i}" for i in range(30)]
    cf.puts([{"path": k, "content": b"x" * 10, "compress": "gzip" if i % 2 else None} for i, k in enumerate(keys)])
    # A stale plain copy beside a gzip one, and an unrelated file that must survive.
    (tmp_path / "d1" / "f1").write_bytes(b"stale")
    (tmp_path / "d1" / "f1.gz").write_bytes(gzip.compress(b"x" * 10))
    (tmp_path / "d0" / "keep").write_bytes(b"keep")
    cf.delete(keys + ["d2/never-there", "nowhere/at-all"])
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["d0/keep"]
    assert not any(cf.exists(keys).values())


def test_an_unsafe_key_fails_the_batch_before_anything_is_removed(tmp_path):
    cf = CloudFiles("file://" + str(tmp_path / "root"))
    cf.puts([{"path": f"f{i}", "content": b"x"} for i in range(5)])
    (tmp_path / "outside").write_bytes(b"mine")
    with pytest.raises(CloudFilesError):
        cf.delete([f"f{i}" for i in range(5)] + ["../outside"])
    assert (tmp_path / "outside").read_bytes() == b"mine"
    assert all(cf.exists([f"f{i}" for i in range(5)]).values())


def test_local_fan_out_is_capped_whatever_num_threads_says(tmp_path):
    f = CloudFiles("file://" + str(tmp_path), num_threads=20)
    m = CloudFiles(f"mem://fanout-{tmp_path.name}", num_threads=20)
    assert (f._threads(500), f._threads(500, writes=True)) == (1, 1)  # CPU-bound: system time, not waits
    synced = CloudFiles("file://" + str(tmp_path), num_threads=20, fsync=True)
    assert (synced._threads(500), synced._threads(500, writes=True)) == (1, 8)  # fsync waits overlap
    assert CloudFiles("file://" + str(tmp_path), num_threads=3, fsync=True)._threads(500, writes=True) == 3
    assert (m._threads(500), m._threads(500, writes=True)) == (1, 1)  # storage in this process
    s3 = CloudFiles("s3://bucket/x", num_threads=20)
    assert s3._threads(500) == 20  # network backends: as asked
