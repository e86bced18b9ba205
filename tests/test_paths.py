import os

import pytest

from cloudfiles import CloudFiles, paths
from cloudfiles.exceptions import CloudPathError, UnsupportedProtocolError


@pytest.mark.parametrize("cloudpath, expected", [
    ("gs://bkt/a/b", ("gs", "bkt", "a/b", None)),
    ("gs://bkt", ("gs", "bkt", "", None)),
    ("gs://bkt/", ("gs", "bkt", "", None)),
    ("s3://bkt/dir/", ("s3", "bkt", "dir/", None)),
    ("s3://https://s3.example.com/bkt/p", ("s3", "bkt", "p", "https://s3.example.com")),
    ("s3://http://127.0.0.1:9000/bkt/p/q", ("s3", "bkt", "p/q", "http://127.0.0.1:9000")),
    ("mem://bkt/p", ("mem", "bkt", "p", None)),
    ("https://example.com/a/b", ("https", "", "a/b", "https://example.com")),
    ("http://127.0.0.1:8080/", ("http", "", "", "http://127.0.0.1:8080")),
    ("file:///abs/dir", ("file", "", "/abs/dir", None)),
])
def test_parse(cloudpath, expected):
    cp = paths.parse(cloudpath)
    assert (cp.protocol, cp.bucket, cp.path, cp.host) == expected


def test_local_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.parse("rel/dir").path == str(tmp_path / "rel" / "dir")
    assert paths.parse("./x").path == str(tmp_path / "x")
    assert paths.parse("file://rel").path == str(tmp_path / "rel")
    assert paths.parse("~/d").path == os.path.join(os.path.expanduser("~"), "d")
    assert paths.normalize("/abs/x") == "file:///abs/x"


@pytest.mark.parametrize("bad, err, match", [
    ("ftp://host/x", UnsupportedProtocolError, "unknown protocol 'ftp'"),
    ("gs://", CloudPathError, "has no bucket"),
    ("s3:///key", CloudPathError, "has no bucket"),
    ("gs://bad bucket/x", CloudPathError, "invalid bucket name"),
    ("", CloudPathError, "empty cloudpath"),
    ("https://", CloudPathError, "malformed URL"),
    ("s3://https:///bkt", CloudPathError, "invalid host|malformed"),
    ("gs:/bucket/x", CloudPathError, "malformed cloudpath"),
])
def test_malformed_paths_raise_typed_errors(bad, err, match):
    with pytest.raises(err, match=match):
        paths.parse(bad)
    with pytest.raises(err):
        CloudFiles(bad)


def test_non_string_cloudpath():
    with pytest.raises(CloudPathError, match="must be a string"):
        paths.parse(42)


def test_endpoint_override():
    cp = paths.parse("s3://bkt/p", endpoint="http://localhost:9000/")
    assert cp.host == "http://localhost:9000" and cp.bucket == "bkt"
    with pytest.raises(CloudPathError, match="s3:// paths only"):
        paths.parse("gs://bkt/p", endpoint="http://localhost:9000")


def test_aliases_resolve_and_persist(tmp_path):
    assert paths.parse("matrix://bkt/x").host == "https://s3-hpcrc.rc.princeton.edu"
    paths.add_alias("lab", "s3://https://storage.lab.example:8443/", persist=True)
    cp = paths.parse("lab://bkt/a/b")
    assert (cp.protocol, cp.host, cp.bucket, cp.path, cp.alias) == (
        "s3", "https://storage.lab.example:8443", "bkt", "a/b", "lab")
    paths._reset_aliases_for_tests()
    assert "lab" in paths.aliases()  # read back from ~/.cloudfiles/aliases.json
    paths.remove_alias("lab", persist=True)
    paths._reset_aliases_for_tests()
    with pytest.raises(UnsupportedProtocolError):
        paths.parse("lab://bkt")
    with pytest.raises(CloudPathError, match="shadow"):
        paths.add_alias("gs", "s3://https://x/")
    with pytest.raises(CloudPathError, match="must start with"):
        paths.add_alias("weird", "ftp://x/")


def test_to_https():
    assert paths.to_https(paths.parse("gs://bkt/a")).url == "https://storage.googleapis.com/bkt/a"
    assert paths.to_https(paths.parse("s3://bkt/a")).url == "https://s3.amazonaws.com/bkt/a"
    assert paths.to_https(paths.parse("s3://http://h:1/bkt/a")).url == "http://h:1/bkt/a"
    assert CloudFiles("gs://bkt/dir", use_https=True).cloudpath == "https://storage.googleapis.com/bkt/dir"


def test_join_dirname_basename():
    assert paths.join("a/", "/b", "c") == "a/b/c"
    assert paths.join("", "x") == "x"
    assert paths.dirname("gs://b/a/c") == "gs://b/a"
    assert paths.basename("gs://b/a/c") == "c"
    assert paths.parse("gs://b/a").join("c", "d").url == "gs://b/a/c/d"


def test_keys_may_not_escape_local_root(tmp_path):
    cf = CloudFiles(str(tmp_path / "root"))
    with pytest.raises(CloudPathError, match=r"'\.\./outside'"):
        cf.put("../outside", b"x")
    assert not (tmp_path / "outside").exists()
    # '..' is refused wherever it stands, even where it would resolve inside (docs/security.md)
    with pytest.raises(CloudPathError, match=r"'a/\.\./inside'"):
        cf.put("a/../inside", b"ok")
    assert not (tmp_path / "root" / "inside").exists()


def test_full_cloudpaths_as_keys(tmp_path):
    cf = CloudFiles(str(tmp_path))
    cf.put("k", b"v")
    assert cf.get("file://" + str(tmp_path / "k")) == b"v"
    with pytest.raises(Exception, match="is not under"):
        cf.get("gs://elsewhere/k")
