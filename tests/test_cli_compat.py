"""CLI habits of cloud-files 6.4.3 and CLI defects found while matching them."""
from __future__ import annotations

from pathlib import Path

from cloudfiles import CloudFiles

from .test_cli import Remote, remote, run  # noqa: F401 - `remote` is a fixture


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
