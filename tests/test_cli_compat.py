"""CLI habits of cloud-files 6.4.3 and CLI defects found while matching them."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from cloudfiles import CloudFiles

from .test_cli import CLI, Remote, remote, run  # noqa: F401 - `remote` is a fixture


def test_license_prints_the_license():
    out = run("license").stdout.decode()
    assert "BSD 3-Clause" in out and "WITHOUT" not in out.split("\n")[0]


def test_mkdir_local_parents_and_cloud_noop(tmp_path, remote: Remote):
    run("mkdir", tmp_path / "a" / "b", tmp_path / "c")
    assert (tmp_path / "a" / "b").is_dir() and (tmp_path / "c").is_dir()
    run("mkdir", tmp_path / "a")  # existing: fine
    (tmp_path / "f").write_text("x")
    proc = run("mkdir", tmp_path / "f", ok=False)
    assert proc.returncode == 1 and b"not a directory" in proc.stderr
    remote.run("mkdir", remote("newdir"))


def test_rm_cloud_folder_without_r_says_directory(tmp_path, remote: Remote):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_bytes(b"1")
    remote.run("cp", "-r", tmp_path / "d", remote("folder"))
    proc = remote.run("rm", remote("folder"), ok=False)
    assert proc.returncode == 1
    assert b"is a directory (use -r)" in proc.stderr and proc.stderr.count(b"\n") == 1
    remote.run("rm", "-r", remote("folder"))


def test_rm_block_size_deletes_everything(tmp_path, remote: Remote):
    (tmp_path / "d").mkdir()
    for i in range(7):
        (tmp_path / "d" / f"f{i}").write_bytes(b"x")
    remote.run("cp", "-r", tmp_path / "d", remote("blk"))
    remote.run("rm", "-r", "-b", "2", remote("blk"))
    listing = remote.run("ls", "-r", remote(""), ok=False).stdout.decode()
    assert "blk/" not in listing


def test_mv_help_shows_mv_examples():
    out = run("mv", "--help").stdout.decode()
    assert "cloudfiles mv " in out and "cloudfiles cp " not in out


def test_xfer_help_has_examples():
    for sub in (["xfer"], ["xfer", "init"], ["xfer", "execute"], ["xfer", "status"]):
        assert "cloudfiles xfer " in run(*sub, "--help").stdout.decode()


def test_str_content_is_stored_as_utf8_as_docs_api_says():
    cf = CloudFiles("mem://compat-str/x")
    cf.put("a", "héllo")
    assert cf.get("a") == "héllo".encode("utf-8")


# ---------------------------------------------------------------- cloud-files habits
def _put_tree(root: Path, files: dict) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


@pytest.mark.parametrize("remote", ["file", "s3"], indirect=True)
def test_ls_is_recursive_by_default_and_flat_lists_one_level(tmp_path, remote: Remote):
    _put_tree(tmp_path / "t", {"a/x.txt": b"1", "a/b/y.txt": b"2", "c/z.txt": b"3", "top": b"4"})
    remote.run("cp", "-r", tmp_path / "t", remote("t"))
    deep = remote.run("ls", "--shortpath", remote("t")).stdout.decode().split()
    assert sorted(deep) == ["a/b/y.txt", "a/x.txt", "c/z.txt", "top"]
    assert remote.run("ls", "-r", "--shortpath", remote("t")).stdout.decode().split() == deep  # -r still accepted
    flat = remote.run("ls", "--flat", "--shortpath", remote("t") + "/").stdout.decode().split()
    assert sorted(flat) == ["a/", "c/", "top"]
    full = remote.run("ls", remote("t", "a")).stdout.decode().split()
    assert sorted(full) == [remote("t", "a", "b", "y.txt"), remote("t", "a", "x.txt")]
    bad = remote.run("ls", "--flat", "-r", remote("t"), ok=False)
    assert bad.returncode == 1 and b"exclude each other" in bad.stderr


def test_du_group_by_extension(tmp_path):
    _put_tree(tmp_path / "d", {"a.png": b"x" * 10, "b/c.PNG": b"x" * 5, "n": b"x" * 3, "d.txt": b"x" * 20})
    out = run("du", "-s", "-e", tmp_path / "d").stdout.decode()
    head, _, table = out.partition("Usage by file extension:")
    assert head.split() == ["38", str(tmp_path / "d")]
    assert [line.split("\t") for line in table.strip().splitlines()] == [
        ["20", ".txt"], ["15", ".png"], ["3", "(no extension)"]]


def _anonymous_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def _public_bucket(s3_server) -> str:
    bucket = s3_server.make_bucket()
    client = s3_server.boto3_client()
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"}]}
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    client.put_object(Bucket=bucket, Key="pub/data.bin", Body=b"public bytes")
    return bucket


def test_no_sign_request_and_no_auth_read_a_public_bucket(tmp_path, s3_server):
    bucket = _public_bucket(s3_server)
    url = s3_server.cloudpath(bucket, "pub/data.bin")
    env = _anonymous_env()

    def anon(*args, ok=True):
        proc = subprocess.run(CLI + [str(a) for a in args], capture_output=True, env=env, timeout=60)
        assert b"Traceback" not in proc.stderr, proc.stderr.decode()
        if ok:
            assert proc.returncode == 0, proc.stderr.decode()
        return proc

    denied = anon("cat", url, ok=False)
    assert denied.returncode == 1 and len(denied.stderr.splitlines()) == 1
    assert b"--no-sign-request" in denied.stderr and b"no_sign_request=True" not in denied.stderr
    assert anon("cat", "--no-sign-request", url).stdout == b"public bytes"
    anon("cp", "--no-sign-request", url, tmp_path / "got.bin")
    assert (tmp_path / "got.bin").read_bytes() == b"public bytes"
    assert anon("ls", "--no-auth", s3_server.cloudpath(bucket, "pub")).stdout.decode().split() == [url]
    assert anon("ls", "--no-sign-request", "--shortpath", s3_server.cloudpath(bucket, "")).stdout.split() == [
        b"pub/data.bin"]
    assert anon("du", "-s", "--no-sign-request", s3_server.cloudpath(bucket, "pub/")).stdout.split()[0] == b"12"
    # (head --no-sign-request is not checked: moto refuses anonymous HEAD even where a policy allows GET)


def test_part_bytes_sets_the_size_copied_in_parts(tmp_path, s3_server):
    bucket = s3_server.make_bucket()
    env = s3_server.secrets
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * 1024 * 1024))
    run("cp", big, s3_server.cloudpath(bucket, "whole.bin"), env=env)
    run("cp", "--part-bytes", str(5 * 1024 * 1024), big, s3_server.cloudpath(bucket, "parts.bin"), env=env)
    client = s3_server.boto3_client()
    assert "-" not in client.head_object(Bucket=bucket, Key="whole.bin")["ETag"]
    assert client.head_object(Bucket=bucket, Key="parts.bin")["ETag"].strip('"').endswith("-3")
    run("verify", big, s3_server.cloudpath(bucket, "parts.bin"), env=env)


@pytest.fixture
def http_dir(tmp_path):
    """A directory served over HTTP (byte ranges supported); ``seen`` records (method, path, Range)."""
    import threading
    from http.server import ThreadingHTTPServer

    from .rangeserver import RangeHandler

    root = tmp_path / "www"
    root.mkdir()
    seen: list = []

    class Handler(RangeHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def send_head(self):
            seen.append((self.command, self.path, self.headers.get("Range")))
            return super().send_head()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_cp_resumable_continues_a_part_file(tmp_path, http_dir):
    root, url, seen = http_dir
    data = os.urandom(3 * 1024 * 1024 + 17)
    (root / "big.bin").write_bytes(data)
    (root / "small.txt").write_bytes(b"small")
    out = tmp_path / "out"
    out.mkdir()
    (out / "big.bin.part").write_bytes(data[:1024 * 1024])      # what an interrupted run left
    run("cp", "--resumable", f"{url}/big.bin", f"{url}/small.txt", out)
    assert (out / "big.bin").read_bytes() == data and (out / "small.txt").read_bytes() == b"small"
    assert sorted(p.name for p in out.iterdir()) == ["big.bin", "small.txt"]
    big_gets = [r for m, p, r in seen if m == "GET" and p == "/big.bin"]
    assert big_gets == [f"bytes={1024 * 1024}-{len(data) - 1}"]   # only the missing tail was asked for
    # A .part longer than the object is not a prefix of it: downloaded again from the start.
    (out / "small.txt.part").write_bytes(b"much too long to be a prefix")
    run("cp", "--resumable", f"{url}/small.txt", out)
    assert (out / "small.txt").read_bytes() == b"small" and not (out / "small.txt.part").exists()


def test_dataset_group_options_after_the_subcommand(tmp_path, monkeypatch):
    monkeypatch.delenv("CLOUDFILES_DATASET_REMOTE", raising=False)
    src = tmp_path / "src"
    _put_tree(src, {"data/train/a.txt": b"alpha", "meta.json": b"{}"})
    home, remote_url = tmp_path / "h", "file://" + str(tmp_path / "remote")
    run("dataset", "register", src, "flowers", "--home", home)
    pushed = run("dataset", "push", "flowers", "--home", home, "--remote", remote_url, "--progress")
    assert pushed.stdout.startswith(b"pushed flowers@")
    assert run("dataset", "--home", home, "ls").stdout.startswith(b"flowers\t")        # before: as ever
    assert run("dataset", "ls", "--home", home).stdout.startswith(b"flowers\t")        # after: the same
    # `dataset ls -r` is its own flag (list the remote): the remote URL goes before `ls`.
    listed = run("dataset", "--remote", remote_url, "ls", "-r", "--home", home).stdout
    assert listed.startswith(b"flowers\t")
    pulled = run("dataset", "pull", "flowers", "--home", tmp_path / "h2", "--remote", remote_url, "-f")
    assert pulled.stdout.startswith(b"installed flowers@") and str(tmp_path / "h2").encode() in pulled.stdout


def test_every_dataset_and_alias_subcommand_has_examples():
    from cloudfiles_cli.main import cli

    for group in ("dataset", "alias", "xfer"):
        for name in cli.commands[group].commands:
            out = run(group, name, "--help").stdout.decode()
            assert f"cloudfiles {group} {name}" in out, f"{group} {name} --help has no example"
            assert "--home" in out or group != "dataset"


def test_rm_progress_counts_files(tmp_path):
    _put_tree(tmp_path / "d", {f"f{i}": b"x" for i in range(7)})
    proc = run("rm", "-r", "--progress", "-b", "2", tmp_path / "d")
    assert not (tmp_path / "d").exists()
    last = proc.stderr.decode().replace("\r", "\n").strip().splitlines()[-1]
    assert "7 files" in last, proc.stderr.decode()


def test_cp_directory_onto_existing_file_is_one_error(tmp_path):
    _put_tree(tmp_path / "d", {f"f{i}": b"x" for i in range(5)})
    (tmp_path / "file").write_bytes(b"keep")
    proc = run("cp", "-r", tmp_path / "d", tmp_path / "file", ok=False)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1 and b"not a directory" in proc.stderr
    assert (tmp_path / "file").read_bytes() == b"keep"


def test_verify_verbose_and_md5(tmp_path):
    _put_tree(tmp_path / "a", {"same": b"1", "diff": b"22"})
    _put_tree(tmp_path / "b", {"same": b"1", "diff": b"33"})
    proc = run("verify", "-v", "--md5", tmp_path / "a", tmp_path / "b", ok=False)
    out = proc.stdout.decode()
    assert proc.returncode == 1 and "differs (checksum)\tdiff" in out
    assert "  source: 2 bytes, encoding none, md5 " + hashlib.md5(b"22").hexdigest() in out
    assert "  target: 2 bytes" in out and hashlib.md5(b"33").hexdigest() in out
    assert "1 matching, 1 differing" in out
