"""Bare local paths (no file://) as a move destination, as cloud-files 6.4.3 takes them (issue 10):
CloudFiles.move / moves, CloudFile.move and `cloudfiles mv`, on real files, mem:// and moto's S3."""
from __future__ import annotations

import os

import pytest

from cloudfiles import CloudFile, CloudFiles, clear_memory

from .test_cli import run


@pytest.fixture(params=["file", "mem"])
def src(request, tmp_path):
    if request.param == "mem":
        clear_memory()
        cf = CloudFiles(f"mem://mv-{os.getpid()}/s")
    else:
        cf = CloudFiles("file://" + str(tmp_path / "s"))
    cf.puts([("a", b"1"), ("b", b"2"), ("c", b"3"), ("d", b"4"), ("e", b"5")])
    return cf


def test_move_to_bare_local_paths(src, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    src.move("a", str(tmp_path / "abs" / "a2"))          # absolute
    src.move("b", "./rel/b2")                            # relative to the working directory
    src.move("c", "../up/c2")
    src.move("d", "~/home/d2")                           # $HOME (a tmp dir in the tests)
    assert (tmp_path / "abs" / "a2").read_bytes() == b"1"
    assert (work / "rel" / "b2").read_bytes() == b"2"
    assert (tmp_path / "up" / "c2").read_bytes() == b"3"
    with open(os.path.join(os.environ["HOME"], "home", "d2"), "rb") as f:
        assert f.read() == b"4"
    assert src.exists(["a", "b", "c", "d"]) == {"a": False, "b": False, "c": False, "d": False}
    # a plain relative name is still a key here (a rename in place)
    src.move("e", "sub/e2")
    assert src.get("sub/e2") == b"5" and not src.exists("e")


def test_moves_and_cloudfile_move_to_bare_local_paths(src, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src.moves("./dir", [("a", "a"), ("b", "x/b")])
    assert (tmp_path / "dir" / "a").read_bytes() == b"1" and (tmp_path / "dir" / "x" / "b").read_bytes() == b"2"
    src.moves(str(tmp_path / "abs"), ["c"])
    assert (tmp_path / "abs" / "c").read_bytes() == b"3"
    f = CloudFile(src.cloudpath.rstrip("/") + "/d")
    f.move(str(tmp_path / "one" / "d.bin"))
    assert (tmp_path / "one" / "d.bin").read_bytes() == b"4" and not src.exists("d")


def test_cli_mv_to_bare_local_paths_from_s3(tmp_path, s3_server):
    bucket = s3_server.make_bucket()
    remote = s3_server.cloudpath(bucket, "m")
    cf = CloudFiles(remote, secrets=s3_server.secrets)
    cf.puts([("a.txt", b"A"), ("dir/b.txt", b"B"), ("dir/c.txt", b"C")])
    env = s3_server.secrets
    run("mv", remote + "/a.txt", tmp_path / "abs" / "a.txt", env=env)
    run("mv", "-r", remote + "/dir", "./got", env=env, cwd=tmp_path)
    assert (tmp_path / "abs" / "a.txt").read_bytes() == b"A"
    assert sorted(p.name for p in (tmp_path / "got").iterdir()) == ["b.txt", "c.txt"]
    assert list(cf.list()) == []
    # and back: a bare relative local source into the bucket
    run("mv", "got/b.txt", remote + "/back/", env=env, cwd=tmp_path)
    assert cf.get("back/b.txt") == b"B" and not (tmp_path / "got" / "b.txt").exists()
