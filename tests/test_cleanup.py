"""cloudfiles cleanup / CloudFiles.cleanup: stale temporaries of killed writers on every backend that has them."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from cloudfiles import CloudFiles
from cloudfiles.cleanup import parse_age
from cloudfiles.exceptions import InvalidInputError

pytestmark = pytest.mark.timeout(120)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "cloudfiles_cli.main", *args], capture_output=True,
                          text=True, timeout=60, env=env)


def _age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.fixture
def litter(tmp_path):
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "keep").write_bytes(b"real")
    old = root / "sub" / "f.gz.cftmp-4242-7"
    old.write_bytes(b"x" * 10)
    _age(old, 3 * 86400)
    recent = root / "g.cftmp-4242-8"  # a live writer's: younger than the threshold
    recent.write_bytes(b"y")
    _age(recent, 3600)
    return root, old, recent


def test_parse_age():
    assert parse_age("90") == 90 and parse_age("30m") == 1800 and parse_age("2d") == 172800
    assert parse_age(1.5) == 1.5 and parse_age("1w") == 7 * 86400
    for bad in ("soon", "-1h", "1y"):
        with pytest.raises(InvalidInputError):
            parse_age(bad)


def test_file_dry_run_then_remove(litter):
    root, old, recent = litter
    cf = CloudFiles(f"file://{root}")
    found = cf.cleanup()  # default: older than a day, dry run
    assert [f.where for f in found] == [f"file://{old}"] and found[0].size == 10
    assert old.exists()
    assert {f.where for f in cf.cleanup(older_than="30m")} == {f"file://{old}", f"file://{recent}"}
    cf.cleanup(dry_run=False)
    assert not old.exists() and recent.exists() and (root / "keep").read_bytes() == b"real"
    assert list(cf.list()) == ["keep"]


def test_cli_dry_run_and_force(litter):
    root, old, recent = litter
    proc = _cli("cleanup", str(root))
    assert proc.returncode == 0, proc.stderr
    assert f"would remove temporary file file://{old}" in proc.stdout and str(recent) not in proc.stdout
    assert "run with -f" in proc.stderr and old.exists()
    proc = _cli("cleanup", "-f", "--older-than", "30m", f"file://{root}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("removed temporary file") == 2
    assert not old.exists() and not recent.exists() and (root / "keep").exists()
    proc = _cli("cleanup", str(root))
    assert proc.returncode == 0 and "no leftovers" in proc.stderr


def test_cli_bad_age_is_one_line(tmp_path):
    proc = _cli("cleanup", "--older-than", "soon", str(tmp_path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "older-than" in proc.stderr


def test_file_cleanup_does_not_follow_symlinks_out(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    bait = outside / "x.cftmp-1-1"
    bait.write_bytes(b"not ours")
    _age(bait, 10 * 86400)
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "link")
    CloudFiles(f"file://{root}").cleanup(dry_run=False)
    assert bait.exists()


def test_s3_incomplete_multipart_uploads(s3_server):
    bucket = s3_server.make_bucket()
    client = s3_server.boto3_client()
    mine = client.create_multipart_upload(Bucket=bucket, Key="dir/big.bin")["UploadId"]
    client.upload_part(Bucket=bucket, Key="dir/big.bin", UploadId=mine, PartNumber=1, Body=b"a" * 100)
    other = client.create_multipart_upload(Bucket=bucket, Key="elsewhere/x")["UploadId"]
    cf = CloudFiles(s3_server.cloudpath(bucket, "dir/"), secrets=s3_server.secrets)
    # moto reports a fixed 2010 'Initiated' time, so the age threshold is checked with a huge one
    assert cf.cleanup(older_than="10000w") == []
    found = cf.cleanup(older_than=0)
    assert len(found) == 1 and "dir/big.bin" in found[0].where and mine in found[0].where
    cf.cleanup(older_than=0, dry_run=False)
    left = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in left] == [("elsewhere/x", other)]


def test_s3_cli_force(s3_server, monkeypatch):
    bucket = s3_server.make_bucket()
    client = s3_server.boto3_client()
    client.create_multipart_upload(Bucket=bucket, Key="k")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3_server.access_key, AWS_SECRET_ACCESS_KEY=s3_server.secret_key,
               AWS_DEFAULT_REGION=s3_server.region)
    url = s3_server.cloudpath(bucket, "")
    proc = _cli("cleanup", "--older-than", "0", "-f", url, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "removed multipart upload" in proc.stdout
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_gcs_composite_parts(store_gcs):
    from cloudfiles.backends.gcs import TMP_PREFIX

    cf = store_gcs.cf()
    cf.put("real", b"keep me")
    cf.backend._put_name(f"{TMP_PREFIX}deadbeef/00001", b"part one")
    assert cf.cleanup() == []  # just written
    found = cf.cleanup(older_than=0)
    assert [f.where.rsplit("/", 2)[-2:] for f in found] == [["deadbeef", "00001"]] and found[0].size == 8
    cf.cleanup(older_than=0, dry_run=False)
    assert cf.cleanup(older_than=0) == [] and cf.get("real") == b"keep me"


def test_mem_has_nothing_to_clean():
    from cloudfiles.exceptions import UnsupportedOperationError

    with pytest.raises(UnsupportedOperationError):
        CloudFiles("mem://b/").cleanup()
