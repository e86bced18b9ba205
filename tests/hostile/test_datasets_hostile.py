"""Tampered dataset manifests and tags: every field that becomes a path or key is
checked before any use; nothing outside the store's home is created, moved,
read or deleted, on pull, pull -f, a resumed pull or the CLI."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cloudfiles.datasets import DatasetIntegrityError, Datasets

pytestmark = pytest.mark.timeout(120)

CLI = [shutil.which("cloudfiles")] if shutil.which("cloudfiles") else [sys.executable, "-m", "cloudfiles_cli.main"]
FILES = {"data/train/a.bin": b"train a", "data/test/b.bin": b"test b", "README.md": b"# ds\n"}


def snapshot(root: Path, skip: tuple = ()) -> dict:
    """Every path below ``root`` (outside ``skip``) with its bytes, link target or None for a directory."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip]
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                out[p] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                out[p] = open(p, "rb").read()
            else:
                out[p] = None
    return out


@pytest.fixture
def world(tmp_path):
    """A file:// remote with one pushed version of ``ds``, a store home, and a victim
    directory next to the home (where ``../../../../victim`` from .staging/ds@ leads)."""
    src = tmp_path / "src"
    for rel, data in FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    home = tmp_path / "home"
    remote = tmp_path / "remote"
    victim = tmp_path / "victim"
    (victim / "data" / "train").mkdir(parents=True)
    (victim / "precious.txt").write_bytes(b"PRECIOUS")
    (victim / "data" / "train" / "a.bin").write_bytes(b"victim's own")
    store = Datasets(remote=f"file://{remote}", home=str(home))
    store.register(str(src), "ds")
    store.push("ds")
    shutil.rmtree(src)
    return tmp_path, store, home, remote, victim


def manifest_path(remote: Path) -> Path:
    (path,) = (remote / "ds" / "manifests").glob("*.json")
    return path


def tamper(remote: Path, change) -> None:
    path = manifest_path(remote)
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc))


def outside_home(tmp_path: Path, home: Path, remote: Path) -> dict:
    return snapshot(tmp_path, skip=(str(home), str(remote)))


def installed(home: Path) -> dict:
    root = home / "ds"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".cloudfiles-")}


def set_version(v):
    return lambda doc: doc.update(version=v)


def set_entry(field, value, index=0):
    return lambda doc: doc["files"][index].update({field: value})


CASES = {
    "version-escape": (set_version("../../../../victim"), "'version'"),
    "version-absolute": (set_version("/tmp/victim"), "'version'"),
    "name-escape": (lambda doc: doc.update(name="../victim"), "'name'"),
    "other-name": (lambda doc: doc.update(name="other"), "'name'"),
    "parent-escape": (lambda doc: doc.update(parent="../../x"), "'parent'"),
    "partition-dotdot": (lambda doc: doc.update(partitions={"..": {"files": 1, "bytes": 1}}), "'partitions'"),
    "path-dotdot-partition": (set_entry("path", "data/../../../victim/x"), "'files[0].path'"),
    "path-absolute": (set_entry("path", "/tmp/victim/x"), "'files[0].path'"),
    "path-bookkeeping": (set_entry("path", ".cloudfiles-dataset.json"), "'files[0].path'"),
    "key-escape": (set_entry("key", "versions/x/../../../other/secret"), "'files[0].key'"),
    "key-outside-versions": (set_entry("key", "manifests/x.json"), "'files[0].key'"),
    "size-negative": (set_entry("size", -1), "'files[0].size'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("force", [False, True], ids=["pull", "pull-f"])
def test_tampered_manifest_refused_before_any_use(world, case, force):
    tmp_path, store, home, remote, victim = world
    change, field = CASES[case]
    before_install = installed(home)
    before = outside_home(tmp_path, home, remote)
    tamper(remote, change)
    fresh = Datasets(remote=f"file://{remote}", home=str(home))
    with pytest.raises(DatasetIntegrityError) as info:
        fresh.pull("ds", force=force)
    assert f"field {field}" in str(info.value)
    assert outside_home(tmp_path, home, remote) == before
    assert installed(home) == before_install  # the installed version is untouched
    assert not (home / ".staging").exists() or not any(
        p.name.startswith("ds@") for p in (home / ".staging").iterdir())


def test_resumed_pull_with_escaping_version_deletes_nothing(world):
    """The victim directory exists where the staging path would lead (so a pull would
    'resume' there and clean up 'leftovers'): nothing in it is touched."""
    tmp_path, store, home, remote, victim = world
    shutil.rmtree(home)  # a fresh machine: nothing installed yet
    before = outside_home(tmp_path, home, remote)
    tamper(remote, set_version("../../../../victim"))
    with pytest.raises(DatasetIntegrityError):
        Datasets(remote=f"file://{remote}", home=str(home)).pull("ds")
    assert outside_home(tmp_path, home, remote) == before
    assert (victim / "precious.txt").read_bytes() == b"PRECIOUS"


def test_resume_of_interrupted_pull_with_tampered_entry(world):
    """An interrupted pull left a staging directory; the manifest is then tampered
    with: the resume refuses before it writes, cleans up or moves anything."""
    tmp_path, store, home, remote, victim = world
    shutil.rmtree(home)
    vid = json.loads(manifest_path(remote).read_bytes())["version"]
    staging = home / ".staging" / f"ds@{vid}"
    (staging / "data" / "train").mkdir(parents=True)
    (staging / "data" / "train" / "a.bin").write_bytes(b"train a")
    before_staging = snapshot(staging)
    before = outside_home(tmp_path, home, remote)
    tamper(remote, set_entry("path", "data/../../../../victim/precious.txt"))
    with pytest.raises(DatasetIntegrityError) as info:
        Datasets(remote=f"file://{remote}", home=str(home)).pull("ds")
    assert "field 'files[0].path'" in str(info.value)
    assert outside_home(tmp_path, home, remote) == before
    assert snapshot(staging) == before_staging


def test_absolute_key_reads_nothing_and_leaks_nothing(world):
    tmp_path, store, home, remote, victim = world
    secret = victim / "precious.txt"
    data = secret.read_bytes()
    tamper(remote, set_entry("key", str(secret)))
    with pytest.raises(DatasetIntegrityError) as info:
        Datasets(remote=f"file://{remote}", home=str(home)).pull("ds", force=True)
    message = str(info.value)
    assert "field 'files[0].key'" in message
    assert hashlib.sha256(data).hexdigest()[:8] not in message
    assert f"{len(data)} bytes" not in message


def test_tampered_tag_version_refused(world):
    tmp_path, store, home, remote, victim = world
    (remote / "ds" / "tags").mkdir(exist_ok=True)
    (remote / "ds" / "tags" / "prod.json").write_text(json.dumps({"tag": "prod", "version": "../../../victim"}))
    fresh = Datasets(remote=f"file://{remote}", home=str(home))
    before = outside_home(tmp_path, home, remote)
    with pytest.raises(DatasetIntegrityError) as info:
        fresh.pull("ds@prod", force=True)
    assert "field 'version'" in str(info.value) and "prod.json" in str(info.value)
    with pytest.raises(DatasetIntegrityError):
        fresh.tags("ds")
    assert outside_home(tmp_path, home, remote) == before


def test_pull_force_over_a_link_leading_outside_home_keeps_its_target(world):
    """A dataset link the user pointed at their own directory is replaced on pull -f,
    but its target is neither moved nor deleted."""
    tmp_path, store, home, remote, victim = world
    shutil.rmtree(home)
    home.mkdir()
    os.symlink(victim, home / "ds")
    before = outside_home(tmp_path, home, remote)
    ds = Datasets(remote=f"file://{remote}", home=str(home)).pull("ds", force=True)
    assert outside_home(tmp_path, home, remote) == before
    assert os.path.realpath(home / "ds").startswith(os.path.realpath(home) + os.sep)
    assert (ds["train"] / "a.bin").read_bytes() == b"train a"


def test_cli_pull_of_tampered_manifest_one_line(world):
    tmp_path, store, home, remote, victim = world
    before = outside_home(tmp_path, home, remote)
    tamper(remote, set_version("../../../../victim"))
    env = dict(os.environ, CLOUDFILES_DATASET_REMOTE=f"file://{remote}", CLOUDFILES_DATASET_HOME=str(home))
    proc = subprocess.run(CLI + ["dataset", "pull", "-f", "ds"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "field 'version'" in lines[0], proc.stderr
    assert outside_home(tmp_path, home, remote) == before


def test_honest_pull_still_works(world):
    tmp_path, store, home, remote, victim = world
    shutil.rmtree(home)
    ds = Datasets(remote=f"file://{remote}", home=str(home)).pull("ds")
    assert sorted(ds) == ["test", "train"]
    assert installed(home) == FILES
