"""Datasets: round trips on mem://, file:// and the local S3 server, versions,
dedup, interrupted (and killed) pushes and pulls that resume, corruption,
concurrent pushes and tag moves."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

import cloudfiles
from cloudfiles import CloudFiles
from cloudfiles.datasets import (
    DatasetError,
    DatasetExistsError,
    DatasetIntegrityError,
    DatasetLayoutError,
    DatasetNotFoundError,
    Datasets,
)
from cloudfiles.exceptions import PreconditionFailedError
from tests.conftest import backends

REMOTES = [b for b in ("mem", "file", "s3") if b in backends()]
REPO = str(Path(__file__).resolve().parents[1])


class Stop(Exception):
    pass


def make_tree(root: Path, files: dict[str, bytes], meta: dict | None = None) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    if meta is not None:
        (root / "meta.json").write_text(json.dumps(meta))
    return root


def sample(n: int = 6, tag: str = "") -> dict[str, bytes]:
    out = {}
    for i in range(n):
        out[f"data/train/t{i:03d}.bin"] = f"train {i} {tag}".encode() * (i + 1)
        out[f"data/test/sub/e{i:03d}.bin"] = f"test {i} {tag}".encode()
    out["README.md"] = b"# sample\n"
    out["assets/notes.txt"] = b"notes"
    return out


def tree_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".cloudfiles-")}


@pytest.fixture(params=REMOTES)
def remote(request, tmp_path):
    """(remote cloudpath, CloudFiles kwargs) for a fresh, empty remote."""
    kind = request.param
    if kind == "mem":
        return f"mem://ds-{uuid.uuid4().hex[:10]}/remote", {}
    if kind == "file":
        return "file://" + str(tmp_path / "remote"), {}
    server = request.getfixturevalue("s3_server")
    return server.cloudpath(server.make_bucket(), "datasets"), {"secrets": server.secrets}


def store(remote, home: Path) -> Datasets:
    url, kwargs = remote
    return Datasets(remote=url, home=str(home), **kwargs)


def test_round_trip(remote, tmp_path):
    src = make_tree(tmp_path / "src", sample(), meta={"source": "unit test", "n": 6})
    a = store(remote, tmp_path / "home_a")
    ds = a.register(str(src), "flowers")
    assert set(ds.keys()) == {"train", "test"} and ds.version is None
    res = a.push("flowers")
    assert res["uploaded"] == len(sample()) + 1 and res["deduplicated"] == 0
    b = store(remote, tmp_path / "home_b")
    got = b.pull("flowers")
    assert got.version == res["version"]
    assert tree_of(got.root) == tree_of(src)
    assert got.meta == {"source": "unit test", "n": 6}
    assert sorted(p.name for p in got["train"].iterdir()) == [f"t{i:03d}.bin" for i in range(6)]
    info = got.info()
    assert info["partitions"]["train"]["path"] == str(got.root / "data" / "train")
    assert info["partitions"]["test"]["files"] == 6
    assert [r["name"] for r in b.ls()] == ["flowers"]
    [row] = b.ls(remote=True)
    assert row["name"] == "flowers" and row["latest"] == res["version"] and row["versions"] == 1
    assert b.verify("flowers")["ok"]


def test_versions_dedup_tags_and_in_place_reads(remote, tmp_path):
    taggable = remote[0].split("://")[0] in ("mem", "file")  # s3 refuses tags: tested below
    files = sample()
    src = make_tree(tmp_path / "src", files)
    a = store(remote, tmp_path / "home_a")
    a.register(str(src), "ds")
    v1 = a.push("ds")["version"]
    if taggable:
        a.tag("ds", v1, "stable")
    changed = dict(files)
    changed["data/train/t000.bin"] = b"changed"
    changed["data/val/new.bin"] = b"brand new"
    make_tree(tmp_path / "src2", changed)
    a.register(str(tmp_path / "src2"), "ds", force=True)
    r2 = a.push("ds", tag="v2" if taggable else None)
    assert r2["uploaded"] == 2 and r2["deduplicated"] == len(changed) - 2
    b = store(remote, tmp_path / "home_b")
    if taggable:
        assert a.tags("ds") == {"latest": r2["version"], "stable": v1, "v2": r2["version"]}
        assert tree_of(b.pull("ds@stable").root) == files
    assert tree_of(b.pull("ds").root) == changed
    assert tree_of(b.pull(f"ds@{v1[:6]}").root) == files
    assert [v["version"] for v in b.versions("ds")] == [v1, r2["version"]]
    # Files sit at ordinary paths: the manifest tells any CloudFiles user where.
    url, kwargs = remote
    manifest = b.resolve("ds")
    cf = CloudFiles(url.rstrip("/") + "/ds/", **kwargs)
    entry = next(e for e in manifest["files"] if e["path"] == "data/val/new.bin")
    assert entry["key"] == f"versions/{r2['version']}/data/val/new.bin"
    assert cf.get(entry["key"]) == b"brand new"
    unchanged = next(e for e in manifest["files"] if e["path"] == "data/train/t001.bin")
    assert unchanged["key"].startswith(f"versions/{v1}/")
    with pytest.raises(DatasetNotFoundError, match="no version or tag"):
        b.pull("ds@nosuchtag")
    if taggable:
        with pytest.raises(DatasetExistsError, match="already points at"):
            a.tag("ds", r2["version"], "stable")
        assert a.tag("ds", r2["version"], "stable", force=True)["previous"] == v1


def test_compressed_push_is_decoded_and_verified(remote, tmp_path):
    files = {"data/p/x.json": b'{"a": 1}' * 500, "data/p/y.json": b"[]"}
    src = make_tree(tmp_path / "src", files)
    a = store(remote, tmp_path / "a")
    a.register(str(src), "z")
    a.push("z", compress="gzip")
    entry = a.resolve("z")["files"][0]
    assert entry["encoding"] == "gzip"
    url, kwargs = remote
    raw = CloudFiles(url.rstrip("/") + "/z/", **kwargs).get(entry["key"], raw=True)
    assert raw[:2] == b"\x1f\x8b"
    assert tree_of(store(remote, tmp_path / "b").pull("z").root) == files


def test_layout_errors_name_every_problem(tmp_path):
    bad = tmp_path / "bad"
    make_tree(bad, {"data/stray.txt": b"x", "data/ok/a": b"a"})
    (bad / "data" / "empty").mkdir()
    (bad / "meta.json").write_text("[1, 2]")
    s = Datasets(remote="mem://dsbad/r", home=str(tmp_path / "h"))
    with pytest.raises(DatasetLayoutError) as info:
        s.register(str(bad), "bad")
    msg = str(info.value)
    assert "data/stray.txt is a file" in msg and "data/empty/ holds no files" in msg and "meta.json" in msg
    assert len(info.value.problems) == 3 and "\n" not in msg
    with pytest.raises(DatasetLayoutError, match="data/ is missing"):
        s.register(str(tmp_path / "bad" / "data"), "bad")
    with pytest.raises(DatasetLayoutError, match="invalid dataset name"):
        s.register(str(bad), "../evil")
    with pytest.raises(DatasetLayoutError, match="invalid version or tag"):
        s.pull("x@")


def test_existing_version_and_identical_content_refused(tmp_path):
    src = make_tree(tmp_path / "src", sample(2))
    s = Datasets(remote=f"mem://ds-{uuid.uuid4().hex[:8]}/r", home=str(tmp_path / "h"))
    s.register(str(src), "d")
    v = s.push("d")["version"]
    with pytest.raises(DatasetExistsError, match="already exists"):
        s.push("d")
    assert s.push("d", force=True)["version"] == v
    assert len(s.versions("d")) == 1
    os.utime(src / "README.md", ns=(1, 1))  # new mtime, same content: a new fingerprint
    s.register(str(src), "d", force=True)
    with pytest.raises(DatasetExistsError, match="identical to version"):
        s.push("d")
    with pytest.raises(DatasetExistsError, match="already exists"):
        s.register(str(src), "d")


def test_interrupted_push_resumes(remote, tmp_path):
    files = sample(10)
    src = make_tree(tmp_path / "src", files)
    a = store(remote, tmp_path / "a")
    a.register(str(src), "big")
    calls = []

    def stop_after_7(done, total, path):
        calls.append(path)
        if done == 7:
            raise Stop("simulated crash")

    with pytest.raises(Stop):
        a.push("big", on_file=stop_after_7)
    assert a.versions("big") == [] and a.ls(remote=True) == []
    with pytest.raises(DatasetNotFoundError):
        store(remote, tmp_path / "b").pull("big")
    res = a.push("big")
    assert res["resumed"] >= 7 and res["uploaded"] == len(files) - res["resumed"]
    assert tree_of(store(remote, tmp_path / "b").pull("big").root) == files


def _run(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=REPO, **(env or {}))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=60)


def test_killed_push_and_pull_resume(tmp_path):
    """SIGKILL part-way (no cleanup runs); re-running resumes and nothing half-done is visible."""
    files = sample(20)
    src = make_tree(tmp_path / "src", files)
    remote_url = "file://" + str(tmp_path / "remote")
    Datasets(remote=remote_url, home=str(tmp_path / "a")).register(str(src), "k")
    kill_after = """
        import os, signal
        from cloudfiles.datasets import Datasets
        def cb(done, total, path):
            if done == 9:
                os.kill(os.getpid(), signal.SIGKILL)
        s = Datasets(remote={remote!r}, home={home!r})
    """
    kill_after = textwrap.dedent(kill_after)
    push = _run(kill_after.format(remote=remote_url, home=str(tmp_path / "a")) + "s.push('k', on_file=cb)\n")
    assert push.returncode == -9, push.stderr
    a = Datasets(remote=remote_url, home=str(tmp_path / "a"))
    assert a.versions("k") == []
    res = a.push("k")
    assert res["resumed"] >= 8 and res["uploaded"] + res["resumed"] == len(files)

    pull = _run(kill_after.format(remote=remote_url, home=str(tmp_path / "b")) + "s.pull('k', on_file=cb)\n")
    assert pull.returncode == -9, pull.stderr
    b = Datasets(remote=remote_url, home=str(tmp_path / "b"))
    assert b.ls() == []
    with pytest.raises(DatasetNotFoundError, match="not installed"):
        b.dataset("k", auto_install=False)
    ds = b.pull("k")
    assert ds.info()["complete"] and tree_of(ds.root) == files
    assert b._installed("k")[1]["counts"]["resumed"] >= 8


def test_interrupted_pull_resumes_and_is_never_visible(remote, tmp_path):
    files = sample(8)
    a = store(remote, tmp_path / "a")
    a.register(str(make_tree(tmp_path / "src", files)), "p")
    a.push("p")
    b = store(remote, tmp_path / "b")

    def stop(done, total, path):
        if done == 5:
            raise Stop()

    with pytest.raises(Stop):
        b.pull("p", on_file=stop)
    assert b.ls() == [] and not (tmp_path / "b" / "p").exists()
    ds = b.pull("p")
    counts = b._installed("p")[1]["counts"]
    assert counts["resumed"] >= 4 and counts["downloaded"] == len(files) - counts["resumed"]
    assert tree_of(ds.root) == files


def test_remote_corruption_detected_by_pull_and_verify(remote, tmp_path):
    files = sample(4)
    a = store(remote, tmp_path / "a")
    a.register(str(make_tree(tmp_path / "src", files)), "c")
    v = a.push("c")["version"]
    url, kwargs = remote
    cf = CloudFiles(url.rstrip("/") + "/c/", **kwargs)
    good = cf.get(f"versions/{v}/data/train/t002.bin")
    cf.put(f"versions/{v}/data/train/t002.bin", bytes([good[0] ^ 1]) + good[1:])  # same size
    cf.put(f"versions/{v}/data/test/sub/e001.bin", b"short")
    cf.delete(f"versions/{v}/README.md")
    b = store(remote, tmp_path / "b")
    with pytest.raises(DatasetIntegrityError) as info:
        b.pull("c")
    problems = info.value.problems
    assert len(problems) == 3
    assert any("data/train/t002.bin" in p and "does not match" in p for p in problems)
    assert any("e001.bin" in p for p in problems) and any("README.md: missing" in p for p in problems)
    assert b.ls() == []
    report = a.verify("c", raise_on_error=False)
    assert not report["ok"] and len(report["remote"]["problems"]) == 3 and report["local"]["problems"] == []
    with pytest.raises(DatasetIntegrityError, match="t002.bin"):
        a.verify("c", local=False)


def test_local_corruption_detected_by_verify(tmp_path):
    s = Datasets(remote="file://" + str(tmp_path / "r"), home=str(tmp_path / "h"))
    s.register(str(make_tree(tmp_path / "src", sample(3))), "l")
    s.push("l")
    b = Datasets(remote="file://" + str(tmp_path / "r"), home=str(tmp_path / "h2"))
    ds = b.pull("l")
    p = ds["train"] / "t001.bin"
    data = p.read_bytes()
    os.unlink(p)  # installed files may be hard links shared with staging copies
    p.write_bytes(data[::-1])
    (ds["test"] / "extra.bin").write_bytes(b"x")
    report = b.verify("l", remote=False, raise_on_error=False)
    assert sorted(report["problems"]) == ["local: data/test/extra.bin: not in version " + ds.version,
                                          "local: data/train/t001.bin: sha256 differs from the manifest"]
    # A forced pull repairs it.
    assert b.pull("l", force=True) and b.verify("l")["ok"]


def test_partition_pulls(remote, tmp_path):
    files = sample(3)
    a = store(remote, tmp_path / "a")
    a.register(str(make_tree(tmp_path / "src", files)), "parts")
    a.push("parts")
    b = store(remote, tmp_path / "b")
    ds = b.pull("parts", partitions=["train"])
    assert list(ds) == ["train"] and not (ds.root / "data" / "test").exists()
    assert (ds.root / "README.md").exists() and not ds.info()["complete"]
    with pytest.raises(DatasetNotFoundError, match="no installed partition 'test'"):
        ds["test"]
    assert "test" not in ds and "train" in ds and ds.get("test") is None
    with pytest.raises(DatasetError, match="would drop"):
        b.push("parts")
    with pytest.raises(DatasetNotFoundError, match="no partition nope"):
        b.pull("parts", partitions=["nope"])
    ds = b.pull("parts", partitions=["test"])  # adds to what is installed
    assert set(ds) == {"train", "test"} and tree_of(ds.root) == files
    assert b._installed("parts")[1]["counts"]["reused"] == len(files) - 3


def test_concurrent_pushes_lose_nothing(remote, tmp_path):
    n = 4
    homes = []
    for i in range(n):
        s = store(remote, tmp_path / f"h{i}")
        s.register(str(make_tree(tmp_path / f"src{i}", sample(3, tag=str(i)))), "shared")
        homes.append(s)
    results, errors = [], []
    barrier = threading.Barrier(n)

    def go(s):
        barrier.wait()
        try:
            results.append(s.push("shared"))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=go, args=(s,)) for s in homes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    reader = store(remote, tmp_path / "reader")
    assert {v["version"] for v in reader.versions("shared")} == {r["version"] for r in results}
    assert reader.tags("shared")["latest"] in {r["version"] for r in results}
    for r in results:
        assert reader.verify(f"shared@{r['version']}", local=False)["ok"]
        idx = next(i for i, s in enumerate(homes) if s._installed("shared")[1]["version"] == r["version"])
        assert tree_of(reader.pull(f"shared@{r['version']}").root) == sample(3, tag=str(idx))


def test_concurrent_pushes_from_processes(tmp_path):
    remote_url = "file://" + str(tmp_path / "remote")
    n = 3
    for i in range(n):
        Datasets(remote=remote_url, home=str(tmp_path / f"h{i}")).register(
            str(make_tree(tmp_path / f"src{i}", sample(30, tag=str(i)))), "mp")
    code = "from cloudfiles.datasets import Datasets; import json, sys; " \
           "print(json.dumps(Datasets(remote=sys.argv[1], home=sys.argv[2]).push('mp')))"
    procs = [subprocess.Popen([sys.executable, "-c", code, remote_url, str(tmp_path / f"h{i}")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=REPO)) for i in range(n)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    versions = {json.loads(o)["version"] for o, _ in outs}
    reader = Datasets(remote=remote_url, home=str(tmp_path / "r"))
    assert {v["version"] for v in reader.versions("mp")} == versions
    for v in versions:
        assert reader.verify(f"mp@{v}", local=False)["ok"]


def _tag_remote(kind, tmp_path, request):
    """(remote cloudpath, CloudFiles kwargs) of a fresh remote of ``kind``."""
    if kind == "mem":
        return f"mem://tags-{uuid.uuid4().hex[:8]}/r", {}
    if kind == "file":
        return "file://" + str(tmp_path / "r"), {}
    if kind == "s3":
        server = request.getfixturevalue("s3_server")
        return server.cloudpath(server.make_bucket(), "r"), {"secrets": server.secrets}
    gcs = request.getfixturevalue("store_gcs")
    return gcs.url, {}


@pytest.mark.parametrize("kind", ["mem", "file", "s3", "gcs"])
def test_concurrent_tag_moves_have_one_winner(kind, tmp_path, request):
    if kind in ("s3", "gcs") and kind not in backends():
        pytest.skip(f"{kind} not selected")
    url, kw = _tag_remote(kind, tmp_path, request)
    versions = []
    for i in range(6):
        s = Datasets(remote=url, home=str(tmp_path / f"h{i}"), **kw)
        s.register(str(make_tree(tmp_path / f"s{i}", {"data/a/x": f"{i}".encode()})), "t")
        versions.append(s.push("t")["version"])
    s = Datasets(remote=url, home=str(tmp_path / "h0"), **kw)
    s.tag("t", versions[0], "prod")
    for round_ in range(3):
        base = s.tags("t")["prod"]
        wins, losses = [], []
        barrier = threading.Barrier(5)

        def move(v):
            barrier.wait()
            try:
                wins.append(s.tag("t", v, "prod", expect=base))
            except PreconditionFailedError:
                losses.append(v)

        threads = [threading.Thread(target=move, args=(v,)) for v in versions if v != base]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1 and len(losses) == 4 and wins[0]["moved"]
        assert s.tags("t")["prod"] == wins[0]["version"] != base
    url_cf = CloudFiles(url.rstrip("/") + "/t/", **kw)
    history = url_cf.get_json("tags/prod.json")["history"]
    assert len(history) == 4  # the first tagging and one move per round, none lost
    current = s.tags("t")["prod"]
    stale = next(v for v in versions if v != current)
    with pytest.raises(PreconditionFailedError, match="points at"):
        s.tag("t", versions[1], "prod", expect=stale)
    with pytest.raises(DatasetError, match="latest"):
        s.tag("t", versions[1], "latest")


def test_tag_moves_from_processes_have_one_winner(tmp_path):
    url = "file://" + str(tmp_path / "r")
    versions = []
    for i in range(4):
        s = Datasets(remote=url, home=str(tmp_path / f"h{i}"))
        s.register(str(make_tree(tmp_path / f"s{i}", {"data/a/x": f"{i}".encode()})), "t")
        versions.append(s.push("t")["version"])
    s.tag("t", versions[0], "prod")
    code = ("import sys\nfrom cloudfiles.datasets import Datasets\nfrom cloudfiles.exceptions import PreconditionFailedError\n"
            "try:\n    Datasets(remote=sys.argv[1], home=sys.argv[2]).tag('t', sys.argv[3], 'prod', expect=sys.argv[4])\n"
            "    print('won')\nexcept PreconditionFailedError:\n    print('lost')\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, url, str(tmp_path / "h0"), v, versions[0]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=REPO)) for v in versions[1:]]
    outs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outs == ["lost", "lost", "won"]


@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_push_tag_and_tag_moves_on_clouds(kind, tmp_path, request):
    """S3 If-None-Match/If-Match and GCS ifGenerationMatch move tags: push --tag,
    tag -f, and a stale writer (an out-of-date token) loses."""
    if kind not in backends():
        pytest.skip(f"{kind} not selected")
    url, kw = _tag_remote(kind, tmp_path, request)
    s = Datasets(remote=url, home=str(tmp_path / "h"), **kw)
    s.register(str(make_tree(tmp_path / "s", {"data/a/x": b"x"})), "t")
    v1 = s.push("t", tag="prod")["version"]
    assert s.tags("t") == {"latest": v1, "prod": v1}
    s.register(str(make_tree(tmp_path / "s2", {"data/a/x": b"y"})), "t", force=True)
    v2 = s.push("t")["version"]
    with pytest.raises(DatasetExistsError):
        s.tag("t", v2, "prod")
    assert s.tag("t", v2, "prod", force=True)["moved"]
    assert s.resolve("t", "prod")["version"] == v2

    from cloudfiles.datasets import conditional

    cf = CloudFiles(url.rstrip("/") + "/t/", **kw)
    content, token = conditional.read_versioned(cf, "tags/prod.json")
    assert json.loads(content)["version"] == v2 and token
    conditional.put_if(cf, "tags/prod.json", content + b"\n", token)  # the token still holds
    with pytest.raises(PreconditionFailedError):
        conditional.put_if(cf, "tags/prod.json", b"{}", token)        # now it is stale
    with pytest.raises(PreconditionFailedError):
        conditional.put_if(cf, "tags/prod.json", b"{}", None)         # exists: create-only refused
    assert conditional.put_if(cf, "tags/new.json", b"{}", None)      # absent: created
    assert s.resolve("t", "prod")["version"] == v2


def test_config_file_env_and_defaults(tmp_path, monkeypatch):
    home = Path(os.environ["HOME"])
    s = Datasets()  # nothing configured: an embedded local remote
    assert s.remote == "file://" + str(home / ".cloudfiles" / "remote")
    assert s.home == str(home / ".cloudfiles" / "datasets")
    src = make_tree(tmp_path / "src", {"data/a/x": b"x"})
    cloudfiles.datasets.register(str(src), "dflt")
    cloudfiles.datasets.push("dflt")
    shutil_home = home / ".cloudfiles" / "datasets"
    import shutil

    shutil.rmtree(shutil_home)
    ds = cloudfiles.dataset("dflt")
    assert (ds["a"] / "x").read_bytes() == b"x"

    (home / ".cloudfiles" / "config.yaml").write_text(
        f"datasets:\n  url: file://{tmp_path}/cfg-remote\n  home: {tmp_path}/cfg-home\n  compress: gzip\n")
    s = Datasets()
    assert s.remote == f"file://{tmp_path}/cfg-remote" and s.home == f"{tmp_path}/cfg-home"
    assert s.config.compress == "gzip"
    monkeypatch.setenv("CLOUDFILES_DATASET_REMOTE", f"mem://envb/r")
    monkeypatch.setenv("CLOUDFILES_DATASET_HOME", str(tmp_path / "env-home"))
    s = Datasets()
    assert s.remote == "mem://envb/r" and s.home == str(tmp_path / "env-home")
    assert Datasets(remote="mem://argb/x").remote == "mem://argb/x"
    (home / ".cloudfiles" / "config.yaml").write_text("url: mem://x/y\nbogus: 1\n")
    with pytest.raises(DatasetError, match="unknown keys bogus"):
        Datasets()
    (home / ".cloudfiles" / "config.yaml").write_text("url: [unclosed\n")
    with pytest.raises(DatasetError, match="not valid YAML"):
        Datasets()


def test_dataset_function_auto_install(tmp_path):
    url = f"mem://auto-{uuid.uuid4().hex[:8]}/r"
    a = Datasets(remote=url, home=str(tmp_path / "a"))
    a.register(str(make_tree(tmp_path / "src", sample(2))), "auto")
    v = a.push("auto", tag="v1")["version"]
    with pytest.raises(DatasetNotFoundError, match="not installed"):
        cloudfiles.dataset("auto", auto_install=False, remote=url, home=str(tmp_path / "b"))
    ds = cloudfiles.dataset("auto", remote=url, home=str(tmp_path / "b"))
    assert ds.version == v and set(ds.keys()) == {"train", "test"}
    assert cloudfiles.dataset("auto@v1", auto_install=False, remote=url, home=str(tmp_path / "b")).version == v
    c = Datasets(remote=url, home=str(tmp_path / "c"))
    c.register(str(tmp_path / "src"), "auto")
    with pytest.raises(DatasetExistsError, match="never pushed"):
        c.pull("auto")
    assert c.pull("auto", force=True).version == v
