"""The installed ``cloudfiles`` command, run in a subprocess against file:// and
the real local S3 (moto) and GCS (emulator) servers started by tests/stores/."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

CLI = [shutil.which("cloudfiles")] if shutil.which("cloudfiles") else [sys.executable, "-m", "cloudfiles_cli.main"]


def run(*args, input: bytes | None = None, env: dict | None = None, ok: bool = True, cwd=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(CLI + [str(a) for a in args], input=input, capture_output=True, env=full_env,
                          timeout=60, cwd=cwd)
    if ok and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr.decode()}")
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


class Remote:
    """A fresh empty place of one kind, plus the environment the CLI needs to reach it."""

    def __init__(self, kind: str, url: str, env: dict):
        self.kind, self.url, self.env = kind, url.rstrip("/"), env

    def __call__(self, *parts: str) -> str:
        return "/".join([self.url, *parts])

    def run(self, *args, **kwargs):
        env = dict(self.env)
        env.update(kwargs.pop("env", {}) or {})
        return run(*args, env=env, **kwargs)


@pytest.fixture(params=["file", "s3", "gcs"])
def remote(request, tmp_path) -> Remote:
    kind = request.param
    if kind == "file":
        return Remote(kind, "file://" + str(tmp_path / "remote"), {})
    if kind == "s3":
        server = request.getfixturevalue("s3_server")
        bucket = server.make_bucket()
        env = {"AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
               "AWS_DEFAULT_REGION": server.region}
        return Remote(kind, server.cloudpath(bucket, "root"), env)
    server = request.getfixturevalue("gcs_server")
    bucket = server.create_bucket()
    return Remote(kind, f"gs://{bucket}/root", {"STORAGE_EMULATOR_HOST": server.endpoint})


def make_tree(root: Path) -> dict:
    """Nested folders, an empty file, unicode names and a gzip file on disk."""
    files = {
        "a.txt": b"hello\n",
        "empty": b"",
        "sub/deep/d.bin": bytes(range(256)) * 3,
        "sub/ünï cödé.txt": "ünï\n".encode(),
    }
    for name, data in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "sub" / "packed.gz").write_bytes(gzip.compress(b"packed content " * 20))
    return files


def tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_directory_roundtrip(remote, tmp_path):
    src = tmp_path / "src"
    make_tree(src)
    remote.run("cp", "-r", src, remote("copy"))           # new destination: becomes the copy
    listed = remote.run("ls", "-r", "--shortpath", remote("copy")).stdout.decode().split("\n")
    assert sorted(filter(None, listed)) == sorted(
        ["a.txt", "empty", "sub/deep/d.bin", "sub/ünï cödé.txt", "sub/packed"])   # no .gz suffix
    assert remote.run("cat", remote("copy", "sub", "packed")).stdout == b"packed content " * 20
    remote.run("verify", src, remote("copy"))
    back = tmp_path / "back"
    remote.run("cp", "-r", remote("copy"), back)
    assert tree(back) == tree(src)                          # packed.gz comes back gzip, byte for byte
    # Into an existing directory: the source directory is created inside it.
    remote.run("cp", "-r", remote("copy"), back)
    assert tree(back / "copy") == tree(src)


def test_cp_naming_rules(remote, tmp_path):
    src = tmp_path / "src"
    make_tree(src)
    remote.run("cp", src / "a.txt", remote("dir") + "/")     # trailing '/': inside
    remote.run("cp", src / "a.txt", remote("named.txt"))     # a new name
    remote.run("cp", src / "a.txt", src / "empty", remote("dir"))  # several sources: into dir
    ls = remote.run("ls", "-r", "--shortpath", remote()).stdout.decode().split()
    assert sorted(ls) == ["dir/a.txt", "dir/empty", "named.txt"]
    remote.run("cp", str(src / "sub") + "/**", remote("glob") + "/")
    ls = remote.run("ls", "-r", "--shortpath", remote("glob")).stdout.decode().split("\n")
    assert sorted(filter(None, ls)) == ["deep/d.bin", "packed", "ünï cödé.txt"]
    remote.run("cp", str(src / "sub") + "/*.txt", remote("txt") + "/")
    assert remote.run("ls", "--shortpath", remote("txt") + "/").stdout.decode().strip() == "ünï cödé.txt"
    failed = remote.run("cp", src / "sub", remote("nope"), ok=False)
    assert failed.returncode == 1 and b"is a directory" in failed.stderr
    failed = remote.run("cp", remote("glob"), tmp_path / "x", ok=False)     # a remote directory without -r
    assert failed.returncode == 1 and b"is a directory" in failed.stderr and len(failed.stderr.splitlines()) == 1


def test_stdin_sources_and_stdout(remote, tmp_path):
    src = tmp_path / "src"
    files = make_tree(src)
    listing = run("ls", "-r", src).stdout
    remote.run("cp", "-", remote("in") + "/", input=listing)
    remote.run("verify", src, remote("in"))
    out = remote.run("cp", remote("in", "sub", "deep", "d.bin"), "-").stdout
    assert out == files["sub/deep/d.bin"]                   # binary-safe
    cat = remote.run("cat", remote("in", "a.txt"), remote("in", "sub", "packed"), remote("in", "a.txt")).stdout
    assert cat == b"hello\n" + b"packed content " * 20 + b"hello\n"
    assert remote.run("cat", "--range", "2-5", remote("in", "sub", "deep", "d.bin")).stdout == bytes([2, 3, 4])
    assert remote.run("cat", remote("in", "a.txt") + ":1-").stdout == b"ello\n"


def test_rm_recursive_never_touches_siblings(remote, tmp_path):
    src = tmp_path / "src"
    for name in ["dir/test/a", "dir/test/b/c", "dir/test1/keep", "dir/testfile"]:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(b"x")
    remote.run("cp", "-r", src / "dir", remote("dir"))
    remote.run("rm", "-r", remote("dir", "test"))
    left = remote.run("ls", "-r", "--shortpath", remote("dir")).stdout.decode().split()
    assert sorted(left) == ["test1/keep", "testfile"]
    failed = remote.run("rm", remote("dir", "test1"), ok=False) if remote.kind == "file" else None
    if failed is not None:
        assert failed.returncode == 1 and b"is a directory" in failed.stderr
    missing = remote.run("rm", remote("dir", "absent"), ok=False)
    assert missing.returncode == 1 and len(missing.stderr.splitlines()) == 1 and b"absent" in missing.stderr
    remote.run("rm", "-f", remote("dir", "absent"))
    remote.run("rm", remote("dir", "testfile"))
    assert remote.run("ls", "-r", "--shortpath", remote("dir")).stdout.decode().split() == ["test1/keep"]


def test_du_figures(remote, tmp_path):
    src = tmp_path / "src"
    for name, size in [("a", 100), ("b/c", 2000), ("b/d", 0), ("b2/e", 7)]:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(b"z" * size)
    remote.run("cp", "-r", src, remote("du"))
    out = remote.run("du", "-s", "-c", "-N", remote("du"), remote("du", "b")).stdout.decode().splitlines()
    assert out == [f"2107\t{remote('du')}", f"2000\t{remote('du', 'b')}", "4107\ttotal", "6\tfiles"]
    per_file = remote.run("du", remote("du", "b")).stdout.decode().splitlines()
    assert sorted(per_file) == sorted([f"2000\t{remote('du', 'b', 'c')}", f"0\t{remote('du', 'b', 'd')}"])
    assert remote.run("du", "-sh", remote("du")).stdout.decode().startswith("2.1 KiB\t")


def test_verify_detects_changes(remote, tmp_path):
    src = tmp_path / "src"
    make_tree(src)
    remote.run("cp", "-r", src, remote("v"))
    remote.run("verify", src, remote("v"))
    (src / "a.txt").write_bytes(b"HELLO\n")                 # same size, other bytes
    (src / "extra").write_bytes(b"new")
    res = remote.run("verify", src, remote("v"), ok=False)
    assert res.returncode == 1
    out = res.stdout.decode()
    assert "differs" in out and "a.txt" in out and "missing in target\textra" in out
    assert len(res.stderr.splitlines()) == 1
    remote.run("verify", "-m", src / "sub", remote("v", "sub"))


def test_resume_and_no_clobber(tmp_path, remote):
    src = tmp_path / "src"
    make_tree(src)
    remote.run("cp", "-r", src, remote("r"))
    back = tmp_path / "back"
    remote.run("cp", "-r", remote("r"), back)
    before = {p: p.stat().st_mtime_ns for p in back.rglob("*") if p.is_file()}
    (back / "a.txt").write_bytes(b"XXXXX\n")                 # corrupted, same size
    (back / "empty").unlink()                                 # never arrived
    remote.run("cp", "-r", "--resume", remote("r") + "/**", str(back) + "/")
    assert tree(back) == tree(src)
    for p, mtime in before.items():
        if p.name not in ("a.txt", "empty"):
            assert p.stat().st_mtime_ns == mtime, p          # not re-sent
    (back / "a.txt").write_bytes(b"mine\n")
    remote.run("cp", "-n", remote("r", "a.txt"), back / "a.txt")
    assert (back / "a.txt").read_bytes() == b"mine\n"


def test_parallel_copy_and_move(remote, tmp_path):
    src = tmp_path / "src"
    for i in range(40):
        (src / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 3}" / f"f{i}").write_bytes(b"%d" % i)
    remote.run("-p", "2", "cp", "-r", src, remote("p"))
    remote.run("verify", src, remote("p"))
    remote.run("mv", "-r", remote("p"), remote("moved"))
    gone = remote.run("ls", "-r", remote("p"), ok=False)
    assert gone.stdout == b"" and gone.returncode == (1 if remote.kind == "file" else 0)
    remote.run("verify", src, remote("moved"))


def test_head_touch_ls_expressions(remote, tmp_path):
    src = tmp_path / "src"
    for name in ["aa1", "ab2", "ba3", "bb4", "cc5"]:
        (src / "e").mkdir(parents=True, exist_ok=True)
        (src / "e" / name).write_bytes(name.encode())
    remote.run("cp", "-r", src / "e", remote("e"))
    ls = remote.run("ls", "-e", "--shortpath", remote("e", "[ab]b")).stdout.decode().split()
    assert ls == ["ab2", "bb4"]
    ls = remote.run("ls", "--shortpath", remote("e", "*[0-9]")).stdout.decode().split()
    assert ls == []  # brackets are literal without -e
    meta = json.loads(remote.run("head", remote("e", "aa1")).stdout)
    assert meta["Content-Length"] == 3
    many = json.loads(remote.run("head", remote("e", "aa1"), remote("e", "ab2")).stdout)
    assert set(many) == {remote("e", "aa1"), remote("e", "ab2")}
    remote.run("touch", remote("e", "new"), remote("e", "aa1"))
    assert remote.run("cat", remote("e", "new"), remote("e", "aa1")).stdout == b"aa1"


def test_alias_commands(tmp_path, s3_server):
    bucket = s3_server.make_bucket()
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key}
    run("alias", "add", "lab", f"s3://{s3_server.endpoint}/")
    assert "lab://" in run("alias", "ls").stdout.decode()
    assert (Path(os.environ["HOME"]) / ".cloudfiles" / "aliases.json").exists()
    (tmp_path / "f.txt").write_bytes(b"via alias")
    run("cp", tmp_path / "f.txt", f"lab://{bucket}/x/", env=env)
    assert run("cat", f"lab://{bucket}/x/f.txt", env=env).stdout == b"via alias"
    again = run("alias", "add", "lab", "s3://https://elsewhere/", ok=False)
    assert again.returncode == 1 and b"exists" in again.stderr
    run("alias", "rm", "lab")
    assert "lab://" not in run("alias", "ls").stdout.decode()
    gone = run("ls", f"lab://{bucket}/", ok=False)
    assert gone.returncode == 1 and b"lab" in gone.stderr


def test_errors_are_one_line(tmp_path):
    (tmp_path / "f").write_bytes(b"1")
    cases = [
        ("cp", tmp_path / "missing", tmp_path / "out"),
        ("cat", tmp_path / "missing"),
        ("ls", "nosuchproto://bucket/x"),
        ("head", tmp_path / "missing"),
        ("verify", tmp_path / "f", tmp_path),
        ("du", tmp_path / "missing"),
        ("cp", tmp_path / "f", tmp_path / "f", tmp_path / "f"),
    ]
    for args in cases:
        res = run(*args, ok=False)
        lines = res.stderr.decode().strip().splitlines()
        assert res.returncode == 1 and len(lines) == 1, (args, res.stderr)
        assert lines[0].startswith("cloudfiles: "), lines
    assert b"missing" in run("cp", tmp_path / "missing", tmp_path / "out", ok=False).stderr
    bad = run("cp", "-c", "lz4", tmp_path / "f", tmp_path / "g", ok=False)
    assert bad.returncode == 2 and b"lz4" in bad.stderr


def test_every_command_has_help():
    top = run("--help").stdout.decode()
    for command in ["ls", "cp", "mv", "rm", "du", "cat", "head", "touch", "verify", "alias"]:
        assert command in top
        assert run(command, "--help").stdout.decode().startswith("Usage: cloudfiles " + command)
    for sub in ["ls", "add", "rm"]:
        run("alias", sub, "--help")
    assert "Naming" in run("cp", "--help").stdout.decode()


def test_compression_option(tmp_path, remote):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "t.txt").write_bytes(b"text " * 100)
    remote.run("cp", "-r", "-c", "br", tmp_path / "s", remote("c"))
    meta = json.loads(remote.run("head", remote("c", "t.txt")).stdout)
    assert meta["Content-Encoding"] == "br"
    out = tmp_path / "o" / ""
    remote.run("cp", "-c", "none", remote("c", "t.txt"), str(out) + "/")
    assert (tmp_path / "o" / "t.txt").read_bytes() == b"text " * 100
    remote.run("verify", tmp_path / "s", remote("c"))         # different encodings, same content


def test_unique_tmp_dirs_do_not_leak(tmp_path):
    """Copies never leave temporary files behind."""
    src = tmp_path / "s"
    make_tree(src)
    run("cp", "-r", src, tmp_path / "d")
    names = [p.name for p in (tmp_path / "d").rglob("*")]
    assert not any(".cftmp" in n for n in names) and str(uuid.UUID(int=0)) not in names


def test_killed_copy_resumes_with_only_the_rest(tmp_path, s3_server):
    """Kill `cp -r` part-way (SIGKILL), then `--resume`: files that arrived are not written again."""
    import signal
    import time

    bucket = s3_server.make_bucket()
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key}
    src = tmp_path / "src"
    for i in range(400):
        (src / f"d{i % 4}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 4}" / f"f{i:03d}").write_bytes(os.urandom(64 + i))
    url = s3_server.cloudpath(bucket, "data")
    run("cp", "-r", src, url, env=env)
    dest = tmp_path / "dest"
    proc = subprocess.Popen(CLI + ["cp", "-r", "-b", "2", url, str(dest)], env=dict(os.environ, **env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    arrived: list = []
    while time.monotonic() < deadline and proc.poll() is None:
        arrived = [p for p in dest.rglob("f*") if p.is_file() and ".cftmp" not in p.name]
        if len(arrived) >= 20:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in dest.rglob("f*") if p.is_file() and ".cftmp" not in p.name}
    if len(done) == 400:   # the copy won the race: make it partial by hand
        for p in list(done)[::2]:
            p.unlink()
            del done[p]
    assert 0 < len(done) < 400
    time.sleep(0.05)
    run("cp", "-r", "--resume", url + "/**", str(dest) + "/", env=env)
    for p, mtime in done.items():
        assert p.stat().st_mtime_ns == mtime, p          # not re-sent
    run("verify", src, dest, env=env)
