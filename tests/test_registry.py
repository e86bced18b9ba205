"""The dataset registry: definitions in a repository and a plugin, search, info,
prepare from a real web server and a moto S3 bucket, resume, errors, --push."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudfiles import CloudFiles, datasets
from cloudfiles.datasets import DatasetError, DatasetIntegrityError, DatasetNotFoundError
from cloudfiles.datasets.unpack import UnpackError, untar, unzip
from cloudfiles_cli.main import cli

REPO = str(Path(__file__).resolve().parents[1])


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _tar(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def site(http_server, s3_server, tmp_path, monkeypatch):
    """Resources on a web server and in an S3 bucket, a repository of definitions, a store."""
    directory, url = http_server.fresh()
    files = {
        "labels.csv": b"id,label\n1,rose\n2,tulip\n",
        "images.bin.gz": gzip.compress(b"\x00\x01" * 5000),
        "train.tar.gz": _tar({"a.txt": b"alpha", "sub/b.txt": b"beta"}),
        "test.zip": _zip({"c.txt": b"gamma"}),
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    bucket = s3_server.make_bucket()
    s3_data = b"s3 resource\n" * 100
    s3_url = s3_server.cloudpath(bucket, "extra.txt")
    for k, v in s3_server.secrets.items():
        monkeypatch.setenv(k, v)
    CloudFiles(s3_server.cloudpath(bucket)).put("extra.txt", s3_data)
    repo = tmp_path / "repo"
    repo.mkdir()
    defn = {
        "id": "org.example.flowers", "name": "Flowers", "description": "Photos of flowers in five classes",
        "tags": ["images", "classification"], "license": "CC-BY-4.0", "homepage": "https://example.org/flowers",
        "resources": [
            {"url": url + "train.tar.gz", "sha256": sha(files["train.tar.gz"]), "size": len(files["train.tar.gz"]),
             "partition": "train", "unpack": "tar"},
            {"url": url + "labels.csv", "sha256": sha(files["labels.csv"]), "partition": "train"},
            {"url": url + "images.bin.gz", "md5": hashlib.md5(files["images.bin.gz"]).hexdigest(),
             "partition": "train", "unpack": "gz"},
            {"url": url + "test.zip", "sha256": sha(files["test.zip"]), "partition": "test", "unpack": "zip"},
            {"url": s3_url, "sha256": sha(s3_data), "partition": "test", "path": "more/extra.txt"},
        ],
    }
    import yaml

    (repo / "flowers.yaml").write_text(yaml.safe_dump(defn))
    (repo / "trees.yaml").write_text(yaml.safe_dump({
        "id": "org.example.trees", "name": "Trees", "description": "Pictures of trees, some with flowers",
        "tags": ["images"], "resources": [{"url": url + "labels.csv", "sha256": sha(files["labels.csv"]),
                                           "partition": "all"}]}))
    monkeypatch.setenv("CLOUDFILES_DATASET_REPOSITORIES", str(repo))
    monkeypatch.setenv("CLOUDFILES_DATASET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLOUDFILES_DATASET_REMOTE", "file://" + str(tmp_path / "remote"))
    return {"dir": directory, "url": url, "files": files, "repo": repo, "defn": defn, "tmp": tmp_path,
            "s3_data": s3_data}


def run(*args: str, ok: bool = True):
    res = CliRunner().invoke(cli, ["dataset", *args])
    if ok:
        assert res.exit_code == 0, (res.output, res.exception)
    return res


def test_prepare_lays_out_verifies_and_installs(site):
    before = json.loads(run("info", "org.example.flowers").output)
    assert before["prepared"] is False and before["definition"]["license"] == "CC-BY-4.0"
    info = json.loads(run("prepare", "org.example.flowers").output)
    assert info["prepared"] is True and set(info["partitions"]) == {"train", "test"}
    train = Path(info["partitions"]["train"]["path"])
    assert (train / "a.txt").read_bytes() == b"alpha" and (train / "sub/b.txt").read_bytes() == b"beta"
    assert (train / "labels.csv").read_bytes() == site["files"]["labels.csv"]
    assert (train / "images.bin").read_bytes() == b"\x00\x01" * 5000
    test = Path(info["partitions"]["test"]["path"])
    assert (test / "c.txt").read_bytes() == b"gamma"
    assert (test / "more/extra.txt").read_bytes() == site["s3_data"]
    assert info["meta"]["id"] == "org.example.flowers" and info["meta"]["tags"] == ["images", "classification"]
    after = json.loads(run("info", "org.example.flowers").output)
    assert after["prepared"] and after["root"] == info["root"]
    ds = datasets.prepare("org.example.flowers")  # already there: returned as is
    assert set(ds) == {"train", "test"} and ds.root == Path(info["root"])
    assert not list((site["tmp"] / "home" / ".staging").glob("prepare-*"))


def test_checksum_mismatch_and_404_install_nothing(site):
    repo = site["repo"]
    bad = dict(site["defn"], id="org.example.bad")
    bad["resources"] = [dict(site["defn"]["resources"][1], sha256="0" * 64),
                        {"url": site["url"] + "missing.csv", "sha256": "1" * 64, "partition": "train"}]
    import yaml

    (repo / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(DatasetIntegrityError) as ei:
        datasets.prepare("org.example.bad")
    msg = str(ei.value)
    assert "org.example.bad" in msg and "labels.csv" in msg and "does not match" in msg
    assert "missing.csv" in msg and "404" in msg
    assert not (site["tmp"] / "home" / "org.example.bad").exists()
    res = run("prepare", "org.example.bad", ok=False)
    assert res.exit_code == 1 and res.output.startswith("cloudfiles dataset prepare: ") and "labels.csv" in res.output


def test_bad_definition_field_and_unverified(site):
    import yaml

    (site["repo"] / "x.yaml").write_text(yaml.safe_dump({"id": "org.x", "resources": [
        {"url": "ftp://x/y", "sha256": "0" * 64, "partition": "a"}]}))
    res = run("search", "flowers", ok=False)
    assert res.exit_code == 1 and "org.x" in res.output and "url must be" in res.output
    (site["repo"] / "x.yaml").write_text(yaml.safe_dump({"id": "org.x", "resources": [
        {"url": site["url"] + "labels.csv", "partition": "a", "path": "../escape"}]}))
    with pytest.raises(DatasetError, match="org.x.*unsafe"):
        datasets.search("flowers")
    (site["repo"] / "x.yaml").write_text(yaml.safe_dump({"id": "org.x", "resources": [
        {"url": site["url"] + "labels.csv", "partition": "a"}]}))
    with pytest.raises(DatasetError, match="org.x.*no sha256 or md5.*trust"):
        datasets.prepare("org.x")
    ds = datasets.prepare("org.x", trust=True)
    assert ds.meta["resources"][0]["sha256"] == sha(site["files"]["labels.csv"])
    # the computed sha256s are the installed manifest: verify checks the files against them
    manifest = json.loads((ds.root / ".cloudfiles-manifest.json").read_text())
    [entry] = [e for e in manifest["files"] if e["path"] == "data/a/labels.csv"]
    assert entry["sha256"] == sha(site["files"]["labels.csv"])
    assert datasets.verify("org.x", remote=False)["ok"]
    installed = ds.root / "data" / "a" / "labels.csv"
    installed.write_bytes(b"X" + installed.read_bytes()[1:])
    with pytest.raises(DatasetError, match="labels.csv"):
        datasets.verify("org.x", remote=False)


def test_search_ranking_and_json(site):
    hits = json.loads(run("search", "flowers", "--json").output)
    assert [h["id"] for h in hits] == ["org.example.flowers", "org.example.trees"]
    assert hits[0]["score"] > hits[1]["score"]
    hits = json.loads(run("search", "images", "trees", "--json").output)
    assert [h["id"] for h in hits] == ["org.example.trees"]
    assert run("search", "nothing-matches").output == ""
    repos = json.loads(run("repositories", "--json").output)
    assert repos[0]["location"] == str(site["repo"]) and repos[0]["datasets"] == 2


def test_push_then_pull_elsewhere_and_orphans(site, tmp_path):
    info = json.loads(run("prepare", "org.example.flowers", "--push").output)
    assert info["version"]
    other = tmp_path / "elsewhere"
    ds = datasets.pull("org.example.flowers", home=str(other))
    assert (ds["train"] / "a.txt").read_bytes() == b"alpha" and ds.version == info["version"]
    assert any(h["id"] == "org.example.flowers" and h.get("remote") for h in datasets.search("flowers"))
    datasets.register(str(ds.root), "stray")
    rows = json.loads(run("orphans", "--json").output)
    assert [r["name"] for r in rows] == ["stray"]


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        time.sleep(60)

    def log_message(self, *a):
        pass


def test_resume_after_killed_prepare(site, tmp_path):
    slow = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    import yaml

    d = dict(site["defn"], id="org.example.resume")
    d["resources"] = [site["defn"]["resources"][1],
                      {"url": f"http://127.0.0.1:{slow.server_port}/late.bin", "sha256": sha(b"late"),
                       "partition": "train"}]
    (site["repo"] / "resume.yaml").write_text(yaml.safe_dump(d))
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "cloudfiles_cli.main", "dataset", "prepare", "org.example.resume"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    downloads = site["tmp"] / "home" / ".staging" / "prepare-org.example.resume" / "downloads"
    deadline = time.time() + 30
    while not (downloads.is_dir() and [p for p in downloads.iterdir() if ".cftmp" not in p.name]):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    slow.shutdown()
    assert len([p for p in downloads.iterdir() if ".cftmp" not in p.name]) == 1
    (site["dir"] / "late.bin").write_bytes(b"late")
    d["resources"][1]["url"] = site["url"] + "late.bin"
    (site["repo"] / "resume.yaml").write_text(yaml.safe_dump(d))
    os.unlink(site["dir"] / "labels.csv")  # so only the kept download can provide it
    ds = datasets.prepare("org.example.resume")
    assert (ds["train"] / "late.bin").read_bytes() == b"late"
    assert (ds["train"] / "labels.csv").read_bytes() == site["files"]["labels.csv"]


def test_unpack_refuses_escapes_and_bombs(tmp_path):
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as t:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(UnpackError, match="outside"):
        untar(str(evil), str(tmp_path / "out"))
    link = tmp_path / "link.tar"
    with tarfile.open(link, "w") as t:
        info = tarfile.TarInfo("passwd")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t.addfile(info)
    with pytest.raises(UnpackError, match="outside"):
        untar(str(link), str(tmp_path / "out2"))
    z = tmp_path / "abs.zip"
    z.write_bytes(_zip({"/etc/x": b"1"}))
    with pytest.raises(UnpackError, match="outside"):
        unzip(str(z), str(tmp_path / "out3"))
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros", b"\0" * (4 * 1024 * 1024))
    with pytest.raises(UnpackError, match="limit"):
        unzip(str(bomb), str(tmp_path / "out4"), limit=1024 * 1024)
    assert not (tmp_path / "outside.txt").exists()


def test_plugin_entry_point(site, tmp_path, monkeypatch):
    """A tiny plugin package (a dist-info with an entry point on sys.path) adds a definition."""
    pkg = tmp_path / "plugin"
    (pkg / "flowerdefs").mkdir(parents=True)
    (pkg / "flowerdefs" / "__init__.py").write_text(textwrap.dedent(f"""
        def definitions():
            return [{{"id": "com.plugin.petals", "name": "Petals", "description": "petal scans",
                      "tags": ["images"], "resources": [{{"url": "{site['url']}labels.csv",
                      "sha256": "{sha(site['files']['labels.csv'])}", "partition": "train"}}]}}]
    """))
    dist = pkg / "flowerdefs-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: flowerdefs\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[cloudfiles.datasets]\npetals = flowerdefs:definitions\n")
    monkeypatch.syspath_prepend(str(pkg))
    assert [h["id"] for h in datasets.search("petals")] == ["com.plugin.petals"]
    repos = json.loads(run("repositories", "--json").output)
    assert {"name": "petals", "kind": "plugin", "location": "flowerdefs:definitions", "datasets": 1} in repos
    ds = datasets.prepare("com.plugin.petals")
    assert (ds["train"] / "labels.csv").exists()


def test_docs_worked_example_runs_verbatim(tmp_path):
    text = (Path(REPO) / "docs" / "registry.md").read_text()
    section = text.split("## Worked example", 1)[1]
    script = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    env = dict(os.environ, PYTHONPATH=REPO, HOME=str(tmp_path))
    env.pop("CLOUDFILES_DATASET_REPOSITORIES", None)
    res = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "org.example.flowers\tFlowers\trepository"
    assert lines[1] == "rose-pixels"
    assert lines[2].startswith("installed org.example.flowers@")
    assert json.loads((tmp_path / "info.json").read_text())["prepared"] is True


def test_public_bucket_is_read_anonymously(s3_server, tmp_path, monkeypatch):
    bucket = s3_server.make_bucket(public=True)
    data = b"public bytes\n"
    CloudFiles(s3_server.cloudpath(bucket), secrets=s3_server.secrets).put("pub.txt", data)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    import yaml

    (repo / "pub.yaml").write_text(yaml.safe_dump({"id": "org.example.pub", "resources": [
        {"url": s3_server.cloudpath(bucket, "pub.txt"), "sha256": sha(data), "partition": "all"}]}))
    # Without credentials the download is retried unsigned. moto refuses the unsigned
    # HEAD (AWS allows it under s3:GetObject); the S3 backend then stats the object
    # with a one-byte ranged GET, which the bucket policy allows, so it installs.
    ds = datasets.prepare("org.example.pub", repositories_=[str(repo)], home=str(tmp_path / "home"),
                          remote="file://" + str(tmp_path / "remote"))
    assert (ds["all"] / "pub.txt").read_bytes() == data
