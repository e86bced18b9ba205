"""get_acl on s3:// (moto server) and gs:// (GCS emulator), the ACL parser's refusals,
and `cloudfiles acl get` (cloud-files 6.4.3's command) on every kind of path."""
from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request

import pytest

from cloudfiles import CloudFile, CloudFiles, exceptions
from cloudfiles.backends.s3 import parse_acl

from .test_cli import Remote, remote, run  # noqa: F401 - `remote` is a fixture


def _s3(server, bucket, prefix=""):
    return CloudFiles(server.cloudpath(bucket, prefix), secrets=server.secrets)


def test_s3_get_acl_matches_boto3(s3_server):
    bucket = s3_server.make_bucket()
    cf = _s3(s3_server, bucket, "acl")
    names = [str(i) for i in range(5)]
    cf.touch(names)
    acls = cf.get_acl(names + ["missing"])
    assert acls["missing"] is None
    client = s3_server.boto3_client()
    for name in names:
        want = client.get_object_acl(Bucket=bucket, Key=f"acl/{name}")
        want.pop("ResponseMetadata")
        assert acls[name] == want
        assert acls[name]["Grants"][0]["Permission"] == "FULL_CONTROL"  # the reference suite's check
    # a canned ACL with a group grantee (URI, Type=Group) comes through too
    client.put_object_acl(Bucket=bucket, Key="acl/0", ACL="public-read")
    got = cf.get_acl("0")["0"]
    uris = {g["Grantee"].get("URI") for g in got["Grants"]}
    assert "http://acs.amazonaws.com/groups/global/AllUsers" in uris
    assert {g["Grantee"]["Type"] for g in got["Grants"]} == {"CanonicalUser", "Group"}
    assert CloudFile(s3_server.cloudpath(bucket, "acl/1"), secrets=s3_server.secrets).get_acl()["1"] == acls["1"]


def test_s3_get_acl_of_missing_bucket_raises(s3_server):
    cf = _s3(s3_server, "no-such-bucket-acl")
    with pytest.raises(exceptions.BucketNotFoundError):
        cf.get_acl("x")


def test_acl_parser_refuses_entities_and_other_documents():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<AccessControlPolicy><Owner><ID>&b;</ID></Owner></AccessControlPolicy>')
    with pytest.raises(exceptions.CloudFilesError, match="DOCTYPE"):
        parse_acl(bomb, "GetObjectAcl x")
    with pytest.raises(exceptions.CloudFilesError, match="AccessControlPolicy"):
        parse_acl(b"<ListBucketResult/>", "GetObjectAcl x")
    with pytest.raises(exceptions.CloudFilesError, match="unreadable"):
        parse_acl(b"<AccessControlPolicy><Owner>", "GetObjectAcl x")
    # no namespace, odd children: only the known fields, as text
    doc = (b"<AccessControlPolicy><Owner><ID>o</ID><Extra>z</Extra></Owner><AccessControlList>"
           b"<Grant><Grantee><EmailAddress>e@x</EmailAddress></Grantee><Permission>READ</Permission></Grant>"
           b"<Junk/></AccessControlList></AccessControlPolicy>")
    assert parse_acl(doc, "x") == {"Owner": {"ID": "o"},
                                   "Grants": [{"Grantee": {"EmailAddress": "e@x"}, "Permission": "READ"}]}


def _gcs_patch_acl(server, bucket, name, acl):
    url = f"{server.endpoint}/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}"
    req = urllib.request.Request(url, data=json.dumps({"acl": acl}).encode(), method="PATCH",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def test_gcs_get_acl_entries(gcs_server, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    bucket = gcs_server.create_bucket()
    cf = CloudFiles(f"gs://{bucket}/p")
    cf.puts([("a", b"1"), ("b", b"2")])
    entries = [{"entity": "allUsers", "role": "READER"}, {"entity": "user-x@example.com", "role": "OWNER"}]
    _gcs_patch_acl(gcs_server, bucket, "p/a", entries)
    acls = cf.get_acl(["a", "b", "missing"])
    assert sorted(acls["a"], key=lambda e: e["entity"]) == entries
    assert acls["b"] == [] and acls["missing"] is None
    with pytest.raises(exceptions.BucketNotFoundError):
        CloudFiles("gs://no-such-bucket-acl/").get_acl("x")


def test_cli_acl_get(tmp_path, remote: Remote):
    src = tmp_path / "f.txt"
    src.write_bytes(b"data")
    os.chmod(src, 0o640)
    remote.run("cp", src, remote("f.txt"))
    remote.run("cp", src, remote("g.txt"))
    one = remote.run("acl", "get", remote("f.txt")).stdout.decode().strip()
    many = remote.run("acl", "get", remote("f.txt"), remote("g.txt")).stdout.decode().splitlines()
    assert many[0].endswith("/root/") or many[0] == remote("")
    table = json.loads(many[1])
    assert set(table) == {"f.txt", "g.txt"}
    if remote.kind == "file":
        assert one.startswith("0o100") and one == table["f.txt"]
        assert int(one, 8) == os.stat(remote("f.txt")[len("file://"):]).st_mode
    elif remote.kind == "s3":
        assert json.loads(one)["Grants"][0]["Permission"] == "FULL_CONTROL"
        assert json.loads(one) == table["f.txt"]
    else:
        assert json.loads(one) == table["f.txt"] and isinstance(json.loads(one), list)
    proc = remote.run("acl", "get", remote("f.txt"), remote("nope"), ok=False)
    assert proc.returncode == 1
    assert proc.stderr.decode().strip().endswith("nope: no such file") and proc.stderr.count(b"\n") == 1
    assert "f.txt" in proc.stdout.decode()


def test_cli_acl_get_local_file_mode_and_directory_refused(tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"1")
    os.chmod(f, 0o600)
    assert run("acl", "get", f).stdout.decode().strip() == oct(os.stat(f).st_mode)
    proc = run("acl", "get", str(tmp_path) + "/", ok=False)
    assert proc.returncode == 1 and b"directory" in proc.stderr
    assert "cloudfiles acl get" in run("acl", "get", "--help").stdout.decode()
