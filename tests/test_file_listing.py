"""The file:// listing streams: key order across awkward sibling names, memory
independent of the number of files, and the symlink rules of cloudfiles.backends.localwalk."""
from __future__ import annotations

import os
import tracemalloc

from cloudfiles import CloudFiles


def _tree(root, n_dirs: int, per_dir: int) -> int:
    """``n_dirs`` directories two levels deep, ``per_dir`` files each; returns the file count."""
    for d in range(n_dirs):
        directory = os.path.join(root, f"d{d // 10:03d}", f"e{d % 10}")
        os.makedirs(directory)
        for f in range(per_dir):
            with open(os.path.join(directory, f"file-{f:03d}.bin"), "wb") as fh:
                fh.write(b"x" * (f % 7))
    return n_dirs * per_dir


def _peak_listing(root, detail: bool) -> tuple[int, int]:
    """(files listed, peak bytes allocated while listing) for a listing consumed one key at a time."""
    backend = CloudFiles(f"file://{root}").backend
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        count = 0
        for meta in (backend.list_meta() if detail else backend.list()):
            count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return count, peak


def test_listing_memory_does_not_grow_with_the_file_count(tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    n_small = _tree(small, 100, 20)      # 2,000 files
    n_large = _tree(large, 1000, 20)     # 20,000 files, same shape per directory
    for detail in (False, True):
        got_small, peak_small = _peak_listing(small, detail)
        got_large, peak_large = _peak_listing(large, detail)
        assert (got_small, got_large) == (n_small, n_large)
        # A whole-tree listing holds every key: ~10x more for 10x the files. A streamed
        # one holds a directory's entries per level, whatever the total.
        assert peak_large < 1.5 * peak_small + 64 * 1024, (detail, peak_small, peak_large)


def test_key_order_is_string_order_of_the_full_key(tmp_path):
    root = tmp_path / "root"
    cf = CloudFiles(f"file://{root}")
    names = ["a/b", "a-b", "a.b", "a0", "a/b/c", "a/b-c", "a/b.c", "a/b0", "b", "a!"]
    names = [n for n in names if n != "a/b"]  # 'a/b' is a directory here
    cf.puts([(n, b"1") for n in names])
    cf.put("a/b", b"2", compress="gzip")  # stored as a/b.gz beside the directory a/b
    listed = list(cf.list())
    assert listed == sorted(names + ["a/b"])
    assert listed.index("a.b") < listed.index("a/b") < listed.index("a/b-c") < listed.index("a/b/c")
    assert list(cf.list(start_after="a/b")) == [k for k in sorted(names + ["a/b"]) if k > "a/b"]
    flat = list(cf.list(flat=True))
    assert flat == ["a!", "a-b", "a.b", "a/", "a0", "b"]


def test_a_key_stored_under_two_names_lists_once_with_the_read_rules_size(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "k").write_bytes(b"plain!")
    (root / "k.gz").write_bytes(b"zz")
    [meta] = list(CloudFiles(f"file://{root}").list_meta())
    assert (meta.key, meta.size, meta.encoding) == ("k", 6, None)  # the name get reads


def test_links_outside_the_start_are_followed_once(tmp_path):
    root = tmp_path / "root"
    (root / "data" / "x").mkdir(parents=True)
    (root / "data" / "x" / "f").write_bytes(b"1")
    (root / "shared").mkdir()
    (root / "shared" / "s").write_bytes(b"22")
    os.symlink(str(root / "shared"), root / "data" / "l1")
    os.symlink(str(root / "shared"), root / "data" / "l2")  # the same directory again
    os.symlink("..", root / "data" / "x" / "up")           # back into the walked tree
    cf = CloudFiles(f"file://{root}")
    assert list(cf.list("data/")) == ["data/l1/s", "data/x/f"]
    assert list(cf.list()) == ["data/x/f", "shared/s"]  # from the root every link is covered
    assert list(cf.list("data/", start_after="data/l1/s")) == ["data/x/f"]
    assert list(cf.list("data/", flat=True)) == ["data/l1/", "data/l2/", "data/x/"]
