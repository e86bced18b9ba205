"""`cloudfiles dataset ...`: the commands end to end on a file:// remote, and
their errors (one stderr line naming the problem, exit status 1)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudfiles import CloudFiles
from cloudfiles_cli.main import cli

REPO = str(Path(__file__).resolve().parents[1])


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUDFILES_DATASET_REMOTE", "file://" + str(tmp_path / "remote"))
    monkeypatch.setenv("CLOUDFILES_DATASET_HOME", str(tmp_path / "home"))
    src = tmp_path / "src"
    for rel, data in {"data/train/a.txt": b"alpha", "data/train/b.txt": b"beta",
                      "data/test/c.txt": b"gamma", "meta.json": b'{"license": "MIT"}'}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    return tmp_path


def run(*args: str, ok: bool = True):
    res = CliRunner().invoke(cli, ["dataset", *args])
    if ok:
        assert res.exit_code == 0, (res.output, res.exception)
    return res


def test_register_push_pull_info_ls_tag(env):
    assert "registered mnist (test, train)" in run("register", str(env / "src"), "mnist").output
    out = run("push", "mnist", "--tag", "v1").output
    assert out.startswith("pushed mnist@") and "3 uploaded" not in out and "4 uploaded" in out
    version = out.split("@", 1)[1].split(":", 1)[0]
    assert run("ls").output.split("\t")[:2] == ["mnist", version]
    assert run("ls", "-r").output.strip() == f"mnist\t{version}\t1 versions\ttags: v1"
    other = str(env / "other")
    out = run("--home", other, "pull", "mnist@v1", "--partition", "test").output
    assert out.startswith(f"installed mnist@{version} (test)")
    info = json.loads(run("--home", other, "info", "mnist").output)
    assert info["id"] == "mnist" and info["version"] == version and info["meta"] == {"license": "MIT"}
    assert set(info["partitions"]) == {"test"} and info["complete"] is False
    assert Path(info["partitions"]["test"]["path"], "c.txt").read_bytes() == b"gamma"
    info = json.loads(run("--home", str(env / "third"), "info", "mnist").output)  # pulls everything
    assert set(info["partitions"]) == {"train", "test"}
    assert info["partitions"]["train"]["files"] == 2
    out = run("verify", "mnist").output
    assert "local: " in out and "remote: " in out and "0 problems" in out
    assert run("tag", "mnist", version[:8], "stable").output.strip() == f"mnist@stable -> {version}"
    assert version in run("versions", "mnist").output and "stable" in run("versions", "mnist").output


def test_errors_are_one_line_and_exit_1(env):
    bad = env / "bad"
    (bad / "data").mkdir(parents=True)
    (bad / "data" / "loose.txt").write_text("x")
    res = run("register", str(bad), "bad", ok=False)
    assert res.exit_code == 1
    assert res.output.count("\n") == 1 and "data/loose.txt is a file" in res.output
    res = run("pull", "missing", ok=False)
    assert res.exit_code == 1 and res.output.strip() == (
        f"cloudfiles dataset pull: dataset missing has no versions on file://{env}/remote")
    run("register", str(env / "src"), "d")
    run("push", "d")
    res = run("push", "d", ok=False)
    assert res.exit_code == 1 and "already exists" in res.output and "use --force" in res.output
    assert run("push", "d", "-f").exit_code == 0
    res = run("register", str(env / "src"), "d", ok=False)
    assert res.exit_code == 1 and "use --force" in res.output
    res = run("pull", "bad name", ok=False)
    assert res.exit_code == 1 and "invalid dataset name" in res.output
    res = run("tag", "d", "latest", "latest", ok=False)
    assert res.exit_code == 1 and "'latest' always names" in res.output


def test_verify_reports_remote_corruption(env):
    run("register", str(env / "src"), "c")
    version = run("push", "c").output.split("@", 1)[1].split(":", 1)[0]
    CloudFiles(f"file://{env}/remote/c/").put(f"versions/{version}/data/train/a.txt", b"ALPHA")
    res = run("verify", "c", ok=False)
    assert res.exit_code == 1
    assert "cloudfiles dataset verify: remote: data/train/a.txt: sha256" in res.output
    res = run("--home", str(env / "h2"), "pull", "c", ok=False)
    assert res.exit_code == 1 and "data/train/a.txt: does not match the manifest" in res.output
    assert run("--home", str(env / "h2"), "ls").output == ""


def test_console_script_entry_point(env):
    """The real `cloudfiles` process: stderr has exactly one line, status 1."""
    proc = subprocess.run([sys.executable, "-m", "cloudfiles_cli.main", "dataset", "pull", "nope@v9"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"cloudfiles dataset pull: dataset nope has no versions on file://{env}/remote"]
