"""list_meta and start_after on every backend (the ``store`` fixture of tests/conftest.py).

What each listing entry carries is checked against what was written (sizes,
md5s, crc32cs computed here from the bytes), and ``start_after`` against the
full listing filtered by plain string order, for probes inside directories,
between them and on the awkward neighbours of 'a/' ('a-b' and 'a.b' sort
before it, 'a0' after).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib

import google_crc32c
import pytest

from cloudfiles.meta import ObjectMeta

# 'a' is stored gzip-compressed: on file:// that is the file 'a.gz' beside the directory 'a'
NAMES = ["a-b", "a.b", "a/b", "a/c/d", "a0", "b/c", "b/d/e", "c"]
ALL = sorted(NAMES + ["a"])
PROBES = ["", "a", "a-", "a-b", "a.b", "a/", "a/a", "a/b", "a/bb", "a/c", "a/c/", "a/c/d", "a/c/e",
          "a0", "a1", "b", "b/", "b/c", "b/d", "b/d/e", "c", "zzz"]


def _data(name: str) -> bytes:
    return (name * 7).encode() + bytes(len(name))  # a different size per name


def _listing_tells_size(store) -> bool:
    return not store.name.startswith("http")  # an HTML index tells names only


@pytest.fixture
def listed(store):
    if not store.listable:
        pytest.skip(f"{store.name} has no listing")
    store.writer().puts([(n, _data(n)) for n in NAMES])
    store.writer().put("a", b"compressed " * 50, compress="gzip")
    return store.cf()


def test_list_meta_carries_what_the_listing_tells(store, listed):
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    metas = list(listed.list_meta())
    assert all(isinstance(m, ObjectMeta) for m in metas)
    assert [m.key for m in metas] == ALL == list(listed.list())
    by_key = {m.key: m for m in metas}
    if _listing_tells_size(store):
        assert list(listed.list_sizes()) == [(m.key, m.size) for m in metas]
    for name in NAMES:
        m, data = by_key[name], _data(name)
        if not _listing_tells_size(store):
            assert m.size is None
            continue
        assert m.size == len(data), name
        if store.name in ("file", "mem", "s3", "gcs"):  # these listings tell the time
            assert m.last_modified is not None
        if m.last_modified is not None:
            assert m.last_modified.tzinfo is not None and m.last_modified > before
        if store.name == "s3":
            assert m.etag == hashlib.md5(data).hexdigest() and m.content_md5() == m.etag
            assert m.extra["etag_is_md5"] is True and m.extra["etag_md5_unconfirmed"] is True
            assert m.storage_class == "STANDARD" and m.parts_count is None
        if store.name == "gcs":
            assert m.md5 == hashlib.md5(data).hexdigest()
            assert m.crc32c == base64.b64encode(google_crc32c.Checksum(data).digest()).decode()
            assert m.version and m.extra["etag_is_md5"] is False
    z = by_key["a"]
    if store.name in ("file", "mem", "gcs"):
        assert z.encoding == "gzip"  # the listing says how the stored bytes are encoded
    if _listing_tells_size(store):
        assert z.size == len(listed.get("a", raw=True))


def test_flat_listing_directories_have_no_size(store, listed):
    metas = list(listed.list_meta(flat=True))
    assert [m.key for m in metas] == ["a", "a-b", "a.b", "a/", "a0", "b/", "c"]
    dirs = [m for m in metas if m.key.endswith("/")]
    assert len(dirs) == 2 and all(m.size is None and m.etag is None and m.md5 is None for m in dirs)
    # list_sizes has sizes everywhere (an HTML index is completed by one HEAD per file)
    assert list(listed.list_sizes("b/", flat=True)) == [("b/c", len(_data("b/c"))), ("b/d/", None)]


@pytest.mark.parametrize("flat", [False, True], ids=["recursive", "flat"])
def test_start_after_keeps_keys_strictly_greater(store, listed, flat):
    full = list(listed.list(flat=flat))
    for probe in PROBES:
        expected = [k for k in full if k > probe]
        assert list(listed.list(flat=flat, start_after=probe)) == expected, probe
        assert [m.key for m in listed.list_meta(flat=flat, start_after=probe)] == expected, probe
        assert [k for k, _ in listed.list_sizes(flat=flat, start_after=probe)] == expected, probe


def test_start_after_with_a_prefix(store, listed):
    assert list(listed.list("a/", start_after="a/b")) == ["a/c/d"]
    assert list(listed.list("a/", flat=True, start_after="a/b")) == ["a/c/"]
    assert list(listed.list("a/", flat=True, start_after="a/c/")) == []
    assert list(listed.list("b", start_after="a/zzz")) == ["b/c", "b/d/e"]  # before the prefix: no effect
    assert list(listed.list("b", start_after="b/c")) == ["b/d/e"]
    assert list(listed.list("b", flat=True, start_after="b/c")) == ["b/d/"]  # 'b' is one directory
    assert list(listed.list(size=True, start_after="b/d/e")) == \
        [("c", len(_data("c")))]
    with pytest.raises(Exception, match="start_after must be a str"):
        listed.list(start_after=3)
