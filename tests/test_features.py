"""Declared backend features: each backend's ``features`` record promises real
methods, callers follow the record (not ``hasattr`` or protocol names), and
every ability switched off with ``CloudFiles(..., features={...})`` takes its
fallback path with the same results.

Real backends only (tests/stores fixtures: file, mem, moto S3, the GCS
emulator, the HTTP server); where a test must prove which path ran it counts
requests through tests/faultproxy.py in front of the real server.
"""
from __future__ import annotations

import dataclasses
import os
import re

import pytest

from cloudfiles import CloudFiles, exceptions
from cloudfiles.backends import Backend, Features, backend_class
from cloudfiles.backends.base import multipart_uploader

from .faultproxy import FaultProxy

MiB = 1024 * 1024

#: ability -> methods a backend declaring it must implement itself (not inherit from Backend)
PROMISES = {
    "server_side_copy": ["copy_within"],
    "batch_delete": ["delete_many"],
    "batch_exists": ["exists_many"],
    "multipart": ["multipart_begin", "multipart_put_part", "multipart_complete", "multipart_abort"],
    "range_streaming": ["read_range_to"],
    "range_into": ["read_range_into"],
    "conditional_writes": ["read_versioned", "put_if"],
    "touch": ["touch"],
    "leftovers": ["leftovers", "remove_leftover"],
    "sync": ["sync"],
    "acl": ["get_acl"],
    "writable": ["put", "delete"],
    "listable": ["list_meta"],  # list and list_sizes are built on it
}
PROTOCOLS = ["file", "mem", "s3", "gs", "http"]


def _switchable(features: Features) -> dict:
    """Each ability ``features`` has, with its switched-off value."""
    out = {}
    for f in dataclasses.fields(features):
        value = getattr(features, f.name)
        if f.name in ("wants_md5", "wants_crc32c", "min_part_size"):
            continue
        if value is True:
            out[f.name] = False
        elif isinstance(value, int) and not isinstance(value, bool) and value > 1:
            out[f.name] = 1
    return out


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_declared_abilities_are_implemented(protocol):
    cls = backend_class(protocol)
    feats = cls.features
    for name, methods in PROMISES.items():
        value = getattr(feats, name)
        if value is True or (not isinstance(value, bool) and value > 1):
            for m in methods:
                assert getattr(cls, m) is not getattr(Backend, m, None), f"{protocol}: {name} needs its own {m}"
        elif name not in ("writable", "listable"):  # optional methods must not exist undeclared
            for m in methods:
                if getattr(Backend, m, None) is None:
                    assert not hasattr(cls, m), f"{protocol} has {m} but does not declare {name}"


def test_capabilities_is_the_old_name(tmp_path):
    cf = CloudFiles("file://" + str(tmp_path))
    assert cf.backend.capabilities is cf.backend.features is cf.features

    class Old(Backend):
        capabilities = Features(batch_delete=7)

    assert Old.features.batch_delete == 7


def test_switching_on_or_unknown_is_refused(tmp_path):
    url = "file://" + str(tmp_path)
    with pytest.raises(exceptions.InvalidInputError, match="bogus"):
        CloudFiles(url, features={"bogus": False, "batch_delete": 1})
    with pytest.raises(exceptions.InvalidInputError, match="range_streaming"):
        CloudFiles(url, features={"range_streaming": True})  # file:// has none to switch on
    with pytest.raises(exceptions.InvalidInputError, match="min_part_size"):
        CloudFiles(url, features={"min_part_size": 0})
    with pytest.raises(exceptions.InvalidInputError, match="batch_delete"):
        CloudFiles("mem://b/p", features={"batch_delete": 1001})
    with pytest.raises(exceptions.InvalidInputError, match="True or False"):
        CloudFiles(url, features={"acl": 0})
    cf = CloudFiles("mem://b/p", features={"batch_delete": 10})
    assert cf.features.batch_delete == 10 and type(cf.backend).features.batch_delete == 1000


def test_every_declared_flag_is_read_by_a_caller():
    """No declared flag is dead: each is read somewhere beneath cloudfiles/ outside backends/."""
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cloudfiles")
    text = ""
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) == "backends":
            continue
        for fn in files:
            if fn.endswith(".py"):
                with open(os.path.join(dirpath, fn)) as f:
                    text += f.read()
    for f in dataclasses.fields(Features):
        assert re.search(rf"\b(features|_caps|caps)\.{f.name}\b", text), f"features.{f.name} is never read"


# -- the same operations with each ability switched off ----------------------------
def _workload(cf: CloudFiles, other: CloudFiles) -> dict:
    """A little of everything; returns what a user would observe."""
    files = [(f"d/{i}", bytes([i]) * (100 + i)) for i in range(12)]
    cf.puts(files[:6])
    cf.puts(files[6:], compress="gzip")
    out: dict = {"get": sorted((r["path"], r["content"]) for r in cf.get([k for k, _ in files]))}
    out["exists"] = cf.exists([k for k, _ in files] + ["d/nope"])
    out["list"] = list(cf.list("d/")) if cf.features.listable else None
    out["range"] = sorted((r["path"], r["content"]) for r in
                          cf.get([{"path": "d/3", "start": 5, "end": 40}, {"path": "d/4", "start": -7}]))
    cf.transfer_to(other, [k for k, _ in files[:8]])
    out["copied"] = sorted((r["path"], r["content"]) for r in other.get([k for k, _ in files[:8]]))
    with cf.open("big", "wb") as w:  # streamed write (multipart, or its buffered fallback)
        for i in range(3):
            w.write(bytes([i + 1]) * (6 * MiB))
    out["big"] = cf.get("big") == b"".join(bytes([i + 1]) * (6 * MiB) for i in range(3))
    out["big_stream"] = sum(len(c) for c in cf.stream("big"))
    cf.delete([k for k, _ in files[:10]])
    out["after_delete"] = cf.exists([k for k, _ in files])
    cf.touch("d/11")
    out["touched"] = cf.get("d/11")
    return out


def _pair(store, tag: str, **kw):
    w = store.writer() if not store.writable else None
    if w is not None:
        pytest.skip(f"{store.name} is read-only")
    base = store.url.rstrip("/")
    opts = dict(store.kwargs)
    opts.update(kw, part_size=5 * MiB, large_threshold=8 * MiB)
    return CloudFiles(f"{base}/{tag}/a", **opts), CloudFiles(f"{base}/{tag}/b", **opts)


def test_each_ability_off_gives_the_same_results(store):
    if not store.writable:
        pytest.skip(f"{store.name} is read-only")
    reference = _workload(*_pair(store, "ref"))
    switchable = _switchable(store.cf().features)
    switchable.pop("writable", None)
    switchable.pop("listable", None)
    assert switchable, "every backend has some ability to switch off"
    for name, off in sorted(switchable.items()):
        cf, other = _pair(store, f"no-{name}", features={name: off})
        assert getattr(cf.features, name) == off
        assert _workload(cf, other) == reference, f"{store.name} with {name}={off}"


def test_writable_off_refuses_before_any_write(tmp_path):
    cf = CloudFiles("file://" + str(tmp_path), features={"writable": False})
    for attempt in (lambda: cf.put("a", b"x"), lambda: cf.puts([("a", b"x")]), lambda: cf.delete("a"),
                    lambda: cf.delete(["a", "b"]), lambda: cf.touch("a"), lambda: cf.open("a", "wb"),
                    lambda: CloudFiles("mem://src/x").transfer_to(cf, ["k"])):
        with pytest.raises(exceptions.UnsupportedOperationError, match="read-only"):
            attempt()
    assert os.listdir(tmp_path) == []


def test_http_write_is_refused_without_a_request():
    # Nothing listens on port 9: any attempt would end in a NetworkError after retries.
    cf = CloudFiles("http://127.0.0.1:9/dir/", retry_policy=None)
    assert cf.features.writable is False
    for attempt in (lambda: cf.put("a", b"x"), lambda: cf.delete(["a"]), lambda: cf.open("a", "wb"),
                    lambda: CloudFiles("mem://src2/x").transfer_to(cf, ["k"])):
        with pytest.raises(exceptions.UnsupportedOperationError, match="read-only"):
            attempt()


def test_multipart_off_uses_the_buffered_upload(tmp_path):
    cf = CloudFiles("file://" + str(tmp_path), features={"multipart": False})
    assert type(multipart_uploader(cf.backend)).__name__ == "_BufferedMultipart"
    assert multipart_uploader(CloudFiles("file://" + str(tmp_path)).backend) is not None


def test_conditional_writes_off_refuses_put_if(tmp_path):
    from cloudfiles.datasets import conditional

    on = CloudFiles("file://" + str(tmp_path))
    token = conditional.put_if(on, "t.json", b"{}", None)
    assert conditional.read_versioned(on, "t.json") == (b"{}", token)
    with pytest.raises(exceptions.PreconditionFailedError, match="changed"):
        conditional.put_if(on, "t.json", b"{}", None)
    off = CloudFiles("file://" + str(tmp_path), features={"conditional_writes": False})
    assert not conditional.supported(off)
    with pytest.raises(exceptions.PreconditionFailedError, match="no conditional writes"):
        conditional.put_if(off, "t.json", b"[]", token)
    assert on.get("t.json") == b"{}"


# -- on S3 (moto), counting requests to show which path ran ----------------------------
@pytest.fixture
def s3_proxy(s3_server):
    bucket = s3_server.make_bucket()
    port = int(s3_server.endpoint.rsplit(":", 1)[1])
    px = FaultProxy("127.0.0.1", port, style="s3").start()
    yield px, bucket, s3_server
    px.stop()


def _s3(px, bucket, server, prefix, **kw):
    return CloudFiles(f"s3://{px.url}/{bucket}/{prefix}", secrets=server.secrets, **kw)


def test_s3_copy_without_server_side_copy(s3_proxy):
    px, bucket, server = s3_proxy
    src = _s3(px, bucket, server, "src")
    files = [(f"k{i}", os.urandom(1000 + i)) for i in range(5)]
    src.puts(files[:3])
    src.puts(files[3:], compress="br", content_type="application/x-test")
    results = {}
    for mode, feats in (("native", None), ("fallback", {"server_side_copy": False})):
        dest = _s3(px, bucket, server, mode, features=feats)
        px.reset()
        res = src.transfer_to(dest, [k for k, _ in files])
        sent = sum(s.body_len for s in px.seen if s.method == "PUT")
        gets = px.count("GET", rf"^/{bucket}/src/k\d$")
        results[mode] = (res.server_side, gets, sent,
                         sorted((r["path"], r["content"]) for r in dest.get([k for k, _ in files], raw=True)),
                         {k: h["Content-Encoding"] for k, h in dest.head([k for k, _ in files]).items()})
    native, fallback = results["native"], results["fallback"]
    assert native[0] == 5 and native[1] == 0 and native[2] == 0  # copied inside S3: no read, no body sent
    assert fallback[0] == 0 and fallback[1] == 5 and fallback[2] > 5000  # each source read and re-sent
    # Same stored bytes and encodings. (Content-Type is kept only by the server-side copy:
    # the fallback re-sends bytes without a HEAD per file; docs/backends.md, "Features".)
    assert native[3] == fallback[3] and native[4] == fallback[4]
    assert native[4] == {"k0": None, "k1": None, "k2": None, "k3": "br", "k4": "br"}


def test_s3_delete_without_batch_delete(s3_proxy):
    px, bucket, server = s3_proxy
    seen = {}
    for mode, feats in (("native", None), ("fallback", {"batch_delete": 1})):
        cf = _s3(px, bucket, server, mode, features=feats)
        keys = [f"x/{i}" for i in range(7)]
        cf.puts([(k, b"v") for k in keys] + [("keep", b"k")])
        px.reset()
        cf.delete(keys)
        seen[mode] = (px.count("POST", r"\?delete"), px.count("DELETE"), list(cf.list()))
    assert seen["native"][:2] == (1, 0)
    assert seen["fallback"][:2] == (0, 7)
    assert seen["native"][2] == seen["fallback"][2] == ["keep"]


def test_s3_ranged_reads_without_range_streaming(s3_proxy, tmp_path):
    px, bucket, server = s3_proxy
    data = os.urandom(21 * MiB)
    writer = _s3(px, bucket, server, "r", part_size=5 * MiB)
    with writer.open("obj", "wb") as w:  # multipart, part size recorded: slices can verify it
        w.write(data)
    out = {}
    for mode, feats in (("native", None), ("fallback", {"range_streaming": False})):
        cf = _s3(px, bucket, server, "r", features=feats, part_size=5 * MiB, large_threshold=6 * MiB,
                 part_threads=2)
        px.reset()
        path = str(tmp_path / mode)
        cf.download_file("obj", path)
        with open(path, "rb") as f:
            got = f.read()
        out[mode] = (got == data, px.count("GET", rf"^/{bucket}/r/obj$"), b"".join(cf.stream("obj")) == data)
    assert out["native"][0] and out["fallback"][0] and out["native"][2] and out["fallback"][2]
    # streamed slices: one GET per thread; without: one GET per 5 MiB part
    assert out["native"][1] == 2 and out["fallback"][1] == 5


def test_s3_streamed_write_without_multipart(s3_proxy):
    px, bucket, server = s3_proxy
    data = os.urandom(12 * MiB)
    for mode, feats in (("native", None), ("fallback", {"multipart": False})):
        cf = _s3(px, bucket, server, mode, features=feats, part_size=5 * MiB)
        px.reset()
        with cf.open("o", "wb") as w:
            w.write(data)
        uploads = px.count("POST", r"\?uploads")
        assert cf.get("o") == data
        assert uploads == (1 if mode == "native" else 0)


# -- register_backend ------------------------------------------------------------------
def _doc_example(name: str) -> str:
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "backends.md")
    with open(path) as f:
        text = f.read()
    marker = f"<!-- example: {name} -->\n```python\n"
    start = text.index(marker) + len(marker)
    return text[start:text.index("```", start)]


@pytest.fixture
def clean_registry():
    from cloudfiles import backends

    before = dict(backends._REGISTERED)
    for name in before:  # start from the built-ins only (tests/stores/registered.py adds dict://)
        backends.unregister_backend(name)
    yield
    for name in list(backends._REGISTERED):
        backends.unregister_backend(name)
    for name, cls in before.items():
        backends.register_backend(name, cls, replace=True)


def test_docs_register_backend_example_runs_verbatim(clean_registry):
    exec(compile(_doc_example("register_backend"), "docs/backends.md", "exec"), {"__name__": "example"})
    from cloudfiles.backends import backend_class

    assert backend_class("dict").__name__ == "DictBackend"


def test_register_backend_is_validated(clean_registry):
    import cloudfiles
    from cloudfiles.backends import BackendOptions, unregister_backend

    class Tiny(Backend):
        features = Features()

    for bad in ("", "Upper", "9lives", "a_b", "x" * 33, "has space", "end-", None):
        with pytest.raises(exceptions.InvalidInputError, match="lower-case word"):
            cloudfiles.register_backend(bad, Tiny)
    with pytest.raises(exceptions.InvalidInputError, match="data format"):
        cloudfiles.register_backend("zarr", Tiny)
    with pytest.raises(exceptions.InvalidInputError, match="alias"):
        cloudfiles.register_backend("matrix", Tiny)
    with pytest.raises(exceptions.InvalidInputError, match="subclass"):
        cloudfiles.register_backend("tiny", dict)
    with pytest.raises(exceptions.InvalidInputError, match="subclass"):
        cloudfiles.register_backend("tiny", Backend)
    with pytest.raises(exceptions.InvalidInputError, match="options_type"):
        cloudfiles.register_backend("tiny", Tiny, options_type=dict)
    with pytest.raises(exceptions.InvalidInputError, match="built-in.*replace=True"):
        cloudfiles.register_backend("s3", Tiny)
    with pytest.raises(exceptions.UnsupportedProtocolError):
        CloudFiles("tiny://b/p")  # nothing registered yet
    cloudfiles.register_backend("tiny", Tiny)
    with pytest.raises(exceptions.InvalidInputError, match="Tiny.*replace=True"):
        cloudfiles.register_backend("tiny", Tiny)
    cf = CloudFiles("tiny://bucket/pre/fix")
    assert type(cf.backend) is Tiny and cf.backend.cloudpath.bucket == "bucket" and cf.backend.cloudpath.path == "pre/fix"
    assert cf.cloudpath == "tiny://bucket/pre/fix"
    with pytest.raises(exceptions.CloudPathError):
        CloudFiles("tiny://")  # a bucket is required
    # replacing a built-in, then restoring it
    cloudfiles.register_backend("mem", Tiny, replace=True)
    assert type(CloudFiles("mem://b/").backend) is Tiny
    unregister_backend("mem")
    assert type(CloudFiles("mem://b/").backend).__name__ == "MemBackend"
    unregister_backend("tiny")
    with pytest.raises(exceptions.UnsupportedProtocolError):
        CloudFiles("tiny://b/p")
    assert issubclass(Tiny.options_type, BackendOptions)


# -- typed options -----------------------------------------------------------------------
def _options_types():
    from cloudfiles.backends.file import FileOptions
    from cloudfiles.backends.gcs import GCSOptions
    from cloudfiles.backends.http import HTTPOptions
    from cloudfiles.backends.mem import MemOptions
    from cloudfiles.backends.s3 import S3Options

    return [S3Options, GCSOptions, HTTPOptions, FileOptions, MemOptions]


def test_each_backend_has_its_options_type_and_every_option_is_documented():
    from cloudfiles.backends import BackendOptions

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "backends.md")
    with open(path) as f:
        doc = f.read()
    section = doc[doc.index("## Options"):doc.index("## Adding a backend")]
    for protocol, otype in zip(["s3", "gs", "http", "file", "mem"], _options_types()):
        assert backend_class(protocol).options_type is otype and issubclass(otype, BackendOptions)
        assert f"`{otype.__name__}`" in section
        for f in dataclasses.fields(otype):
            assert f"| `{f.name}` |" in section, f"{otype.__name__}.{f.name} is not documented"


def test_options_a_backend_does_not_take_are_refused_by_name(tmp_path):
    url = "file://" + str(tmp_path)
    with pytest.raises(exceptions.InvalidInputError, match=r"s3:// does not take option\(s\) listing"):
        CloudFiles("s3://bucket/x", listing="html")
    with pytest.raises(exceptions.InvalidInputError, match=r"mem:// does not take option\(s\) list_page_size"):
        CloudFiles("mem://b/x", list_page_size=10)
    with pytest.raises(exceptions.InvalidInputError, match=r"fsync"):
        CloudFiles("mem://b/x", fsync=True)
    with pytest.raises(exceptions.InvalidInputError, match=r"bogus, copy_threadz.*S3Options takes region"):
        CloudFiles("s3://bucket/x", options={"copy_threadz": 2, "bogus": 1})
    with pytest.raises(exceptions.InvalidInputError, match="copy_part_size"):
        CloudFiles(url, options={"copy_part_size": 2})
    with pytest.raises(exceptions.InvalidInputError, match="keyword"):
        CloudFiles(url, options={"secrets": {}})
    with pytest.raises(exceptions.InvalidInputError, match="list_page_size must be an int from 1 to 1000"):
        CloudFiles("s3://bucket/x", list_page_size=5000)
    with pytest.raises(exceptions.InvalidInputError, match="region"):
        CloudFiles("s3://bucket/x", options={"region": "us east"})
    with pytest.raises(exceptions.InvalidInputError, match="options must be a dict"):
        CloudFiles(url, options=[("fsync", True)])
    # what applies is taken, typed
    cf = CloudFiles("s3://bucket/x", list_page_size=7, options={"region": "eu-west-1", "copy_threads": 3})
    assert type(cf.backend.options).__name__ == "S3Options"
    assert (cf.backend.list_page_size, cf.backend.region, cf.backend.copy_threads) == (7, "eu-west-1", 3)
    assert CloudFiles(url, fsync=True).backend.fsync is True
    # cloud-files' own cross-service keywords stay accepted everywhere (the CLI passes them)
    CloudFiles(url, no_sign_request=True, request_payer="requester")


def test_s3_list_page_size_sets_max_keys(s3_proxy):
    px, bucket, server = s3_proxy
    _s3(px, bucket, server, "l").puts([(f"k{i:02d}", b"x") for i in range(11)])
    for page, pages in ((None, 1), (3, 4)):
        cf = _s3(px, bucket, server, "l", list_page_size=page)
        px.reset()
        assert list(cf.list()) == [f"k{i:02d}" for i in range(11)]
        assert px.count("GET", rf"^/{bucket}\?.*list-type=2") == pages
        assert px.count("GET", r"max-keys=3") == (0 if page is None else pages)


def test_gcs_list_page_size_sets_max_results(gcs_server, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    bucket = gcs_server.create_bucket()
    port = int(gcs_server.endpoint.rsplit(":", 1)[1])
    px = FaultProxy("127.0.0.1", port, style="gcs").start()
    try:
        cf = CloudFiles(f"gs://{bucket}/p", secrets={"endpoint": px.url}, list_page_size=4)
        cf.puts([(f"k{i:02d}", b"x") for i in range(10)])
        px.reset()
        assert list(cf.list()) == [f"k{i:02d}" for i in range(10)]
        assert px.count("GET", r"/o\?.*maxResults=4") == 3
    finally:
        px.stop()


def test_registered_backend_with_its_own_options_type(clean_registry):
    import cloudfiles
    from cloudfiles.backends import BackendOptions

    @dataclasses.dataclass
    class SeenOptions(BackendOptions):
        label: str = "none"

        def check(self) -> None:
            super().check()
            if not isinstance(self.label, str):
                raise exceptions.InvalidInputError(f"label must be a str, got {self.label!r}")

    class Seen(Backend):
        features = Features(writable=False)

    cloudfiles.register_backend("seen", Seen, options_type=SeenOptions)
    cf = CloudFiles("seen://b/p", options={"label": "x"})
    assert isinstance(cf.backend.options, SeenOptions) and cf.backend.options.label == "x"
    with pytest.raises(exceptions.InvalidInputError, match=r"seen:// does not take option\(s\) lable.*takes label"):
        CloudFiles("seen://b/p", options={"lable": "x"})
    with pytest.raises(exceptions.InvalidInputError, match="label must be a str"):
        CloudFiles("seen://b/p", options={"label": 3})
    with pytest.raises(exceptions.UnsupportedOperationError, match="read-only"):
        cf.put("k", b"v")
