"""Assets: naming, specifications (the seed's example), pipeline to file://, mem://, S3 and datasets."""
from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("pydantic")
PIL = pytest.importorskip("PIL.Image")

from cloudfiles import CloudFiles  # noqa: E402
from cloudfiles.assets import AssetsConfigError, Database, NamingError, naming  # noqa: E402

# The seed's example specification; only the imports changed.
SEED_SPEC = '''
from cloudfiles.assets.types import IntType, ListType, StringType
import cloudfiles.assets.validators as vd  # validates traits
import cloudfiles.assets.traits as tr      # gets properties of files and file names
from cloudfiles.assets import SequenceSpecificationBase

class Raw001(SequenceSpecificationBase):
    asset_name_fields = [  # naming convention for asset directory
        'project', 'specification', 'descriptor', 'version'
    ]
    filename_fields = [    # naming convention for asset files
        'project', 'specification', 'descriptor', 'version', 'frame',
        'extension'
    ]
    height = ListType(IntType(), required=True)  # heights of png images
    width = ListType(IntType(), required=True)   # widths of png images
    frame = ListType(
        IntType(),
        required=True,
        validators=[vd.is_frame]  # validates that frame is between 0 and 9999
    )
    channels = ListType(
        IntType(),
        required=True,
        validators=[lambda x: vd.is_in(x, [1, 3])]  # validates that png is 1 or 3 channel
    )
    extension = ListType(
        StringType(),
        required=True,
        validators=[
            vd.is_extension,
            lambda x: vd.is_eq(x, 'png')  # validates that image is png
        ]
    )
    file_traits = dict(
        width=tr.get_image_width,            # retrieves image width from file
        height=tr.get_image_height,          # retrieves image height from file
        channels=tr.get_num_image_channels,  # retrieves image channel number from file
    )
'''

SIZED_SPEC = SEED_SPEC.replace("class Raw001", "class Raw002").replace(
    "height = ListType(IntType(), required=True)",
    "height = ListType(IntType(), required=True, validators=[lambda x: vd.is_eq(x, 8)])")


def png(path, size=(8, 8), mode="RGB"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    PIL.new(mode, size).save(path)


def make_tree(root):
    """good (3 frames RGB), badname (one capitalised descriptor), wide (one wrong height), gray (L) + a note."""
    d = os.path.join(root, "p-cat001", "raw001")
    good = "p-cat001_s-raw001_d-calico-jumping_v001"
    for f in (1, 2, 3):
        png(f"{d}/{good}/{good}_f{f:04d}.png")
    bad = "p-cat001_s-raw001_d-tabby-playing_v001"
    png(f"{d}/{bad}/{bad}_f0001.png")
    png(f"{d}/{bad}/p-cat001_s-raw001_d-Tabby-playing_v001_f0002.png")
    rgba = "p-cat001_s-raw001_d-alpha-cat_v001"
    png(f"{d}/{rgba}/{rgba}_f0001.png", mode="RGBA")
    sized = "p-cat001_s-raw002_d-tall-cat_v002"
    png(f"{root}/p-cat001/raw002/{sized}/{sized}_f0001.png")
    png(f"{root}/p-cat001/raw002/{sized}/{sized}_f0002.png", size=(8, 9))
    with open(os.path.join(root, "notes.txt"), "w") as f:
        f.write("not an asset")


@pytest.fixture
def setup(tmp_path):
    ingress = tmp_path / "ingress"
    make_tree(str(ingress))
    (tmp_path / "specs.py").write_text(SEED_SPEC + SIZED_SPEC.split("class Raw002", 1)[0][0:0]
                                        + "\nclass Raw002" + SIZED_SPEC.split("class Raw002", 1)[1])
    cfg = {"ingress_directory": str(ingress), "staging_directory": str(tmp_path / "staging"),
           "specification_files": [str(tmp_path / "specs.py")], "exporters": []}
    return tmp_path, cfg


def test_naming_parse_and_errors():
    name = "p-cat001_s-raw001_d-calico-jumping_v001_c0000-0005_f0001.png"
    fields = ["project", "specification", "descriptor", "version", "coordinate", "frame", "extension"]
    assert naming.parse(name, fields) == {"project": "cat001", "specification": "raw001",
                                          "descriptor": "calico-jumping", "version": 1, "coordinate": [0, 5],
                                          "frame": 1, "extension": "png"}
    assert naming.construct(naming.parse(name, fields), fields) == name
    with pytest.raises(NamingError) as e:
        naming.parse("p-cat001_s-raw001_d-Calico_v000_f01.png", ["project", "specification", "descriptor",
                                                                  "version", "frame", "extension"])
    assert len(e.value.errors) == 3
    assert "descriptor field 'd-Calico'" in str(e.value) and "lowercase" in str(e.value)
    assert "version field 'v000'" in str(e.value) and "frame field 'f01'" in str(e.value)
    with pytest.raises(NamingError, match="master"):
        naming.parse("d-master-cat", ["descriptor"])


def test_seed_spec_validates_every_error(setup):
    tmp, cfg = setup
    db = Database(cfg).update()
    assets = {a["asset_name"]: a for a in db.assets}
    assert assets["p-cat001_s-raw001_d-calico-jumping_v001"]["asset_valid"] is True
    good = assets["p-cat001_s-raw001_d-calico-jumping_v001"]
    assert good["width"] == [8, 8, 8] and good["channels"] == [3, 3, 3] and good["frame"] == [1, 2, 3]
    bad = assets["p-cat001_s-raw001_d-tabby-playing_v001"]
    assert not bad["asset_valid"] and any("d-Tabby-playing" in e for e in bad["asset_error"])
    alpha = assets["p-cat001_s-raw001_d-alpha-cat_v001"]
    assert alpha["asset_error"] == ["channels: 4 is not in [1, 3]"]
    tall = assets["p-cat001_s-raw002_d-tall-cat_v002"]
    assert tall["asset_error"] == ["height: 9 is not equal to 8"]
    notes = [f for f in db.files if f["filename"] == "notes.txt"][0]
    assert "no specification field" in notes["file_error"][0]
    rows = db.search("SELECT asset_name FROM assets WHERE asset_valid = 1")
    assert rows == [{"asset_name": "p-cat001_s-raw001_d-calico-jumping_v001"}]
    rows = db.search("SELECT filename, width FROM files WHERE file_error IS NOT NULL ORDER BY filename")
    assert [r["filename"] for r in rows] == ["notes.txt", "p-cat001_s-raw001_d-Tabby-playing_v001_f0002.png"]
    with pytest.raises(ValueError, match="search"):
        db.search("DELETE FROM files")


def test_config_errors_name_the_key(setup, tmp_path):
    _, cfg = setup
    with pytest.raises(AssetsConfigError, match="write_mode"):
        Database({**cfg, "write_mode": "teleport"})
    with pytest.raises(AssetsConfigError, match=r"exporters\.0"):
        Database({**cfg, "exporters": [{"name": "disk"}]})
    with pytest.raises(AssetsConfigError, match="bogus"):
        Database({**cfg, "bogus": 1})


def _check_export(cf: CloudFiles, db: Database):
    keys = set(cf.list())
    valid = [a for a in db.assets if a["asset_valid"]]
    files = [f for f in db.files if f["file_id"] in set(valid[0]["file_ids"])]
    expect = {"content/" + f["filepath_relative"] for f in files}
    expect |= {f"metadata/file/{f['file_id']}.json" for f in files}
    expect |= {f"metadata/asset/{a['asset_id']}.json" for a in valid} | {"manifest.json"}
    assert keys == expect
    meta = json.loads(cf.get(f"metadata/asset/{valid[0]['asset_id']}.json"))
    assert meta["asset_name"] == "p-cat001_s-raw001_d-calico-jumping_v001"
    assert meta["asset_type"] == "sequence" and meta["asset_valid"] is True
    assert meta["height"] == [8, 8, 8] and meta["frame"] == [1, 2, 3] and meta["extension"] == ["png"] * 3
    fmeta = json.loads(cf.get(f"metadata/file/{files[0]['file_id']}.json"))
    assert fmeta["filename"] == "p-cat001_s-raw001_d-calico-jumping_v001_f0001.png"
    assert fmeta["width"] == 8 and fmeta["channels"] == 3 and fmeta["frame"] == 1 and fmeta["version"] == 1
    assert fmeta["asset_id"] == valid[0]["asset_id"] and fmeta["file_error"] is None
    assert PIL.open(__import__("io").BytesIO(cf.get("content/" + files[0]["filepath_relative"]))).size == (8, 8)
    manifest = json.loads(cf.get("manifest.json"))
    assert {e["path"] for e in manifest["files"]} == expect - {"manifest.json"}


def test_workflow_to_disk_and_mem(setup):
    tmp, cfg = setup
    cfg["exporters"] = [{"name": "disk", "target_directory": str(tmp / "archive")},
                        {"name": "cloudpath", "target": "mem://assets-test/archive"}]
    db = Database(cfg)
    out = db.workflow(["update", "create", "export"])
    assert out["create"] == {"assets": 1, "files": 3}
    _check_export(CloudFiles("file://" + str(tmp / "archive")), db)
    _check_export(CloudFiles("mem://assets-test/archive"), db)
    ids = sorted(a["asset_id"] for a in db.assets)
    assert ids == sorted(a["asset_id"] for a in Database(cfg).update().assets)  # stable ids
    res = db.delete()
    assert res["deleted_ingress"] == 0 and list(CloudFiles("file://" + str(tmp / "staging")).list()) == []
    assert len(list(CloudFiles("file://" + cfg["ingress_directory"]).list())) == 9


def test_s3_ingress_and_export(setup, s3_server, monkeypatch):
    tmp, cfg = setup
    for k, v in s3_server.secrets.items():
        monkeypatch.setenv(k, v)
    bucket = s3_server.make_bucket()
    ingress = s3_server.cloudpath(bucket, "ingress")
    CloudFiles("file://" + cfg["ingress_directory"]).transfer_to(CloudFiles(ingress))
    target = s3_server.cloudpath(bucket, "archive")
    cfg.update(ingress_directory=ingress, staging_directory=s3_server.cloudpath(bucket, "staging"),
               exporters=[{"name": "cloudpath", "target": target}])
    db = Database(cfg)
    db.workflow()
    assert [a["asset_name"] for a in db.assets if a["asset_valid"]] == ["p-cat001_s-raw001_d-calico-jumping_v001"]
    _check_export(CloudFiles(target), db)


def test_dataset_export_pulls_and_verifies(setup):
    tmp, cfg = setup
    remote = "file://" + str(tmp / "remote")
    cfg["exporters"] = [{"name": "dataset", "dataset": "cats", "remote": remote, "home": str(tmp / "home")}]
    db = Database(cfg)
    res = db.workflow(["update", "create", "export"])
    version = res["export"]["exporters"][0]["version"]
    from cloudfiles.datasets import Datasets

    other = Datasets(remote=remote, home=str(tmp / "home2"))
    ds = other.pull("cats")
    assert ds.version == version
    other.verify("cats")
    assert sorted(ds.keys()) == ["content", "metadata"]
    assert len(list((ds["metadata"] / "file").iterdir())) == 3


def test_interrupted_export_rerun(setup):
    tmp, cfg = setup
    archive = tmp / "archive"
    cfg["exporters"] = [{"name": "disk", "target_directory": str(archive)}]
    db = Database(cfg)
    db.workflow(["update", "create"])
    asset = [a for a in db.assets if a["asset_valid"]][0]
    blocker = archive / "metadata" / "asset" / f"{asset['asset_id']}.json"
    blocker.mkdir(parents=True)  # a directory where a file must go: the export fails part way
    with pytest.raises(Exception):
        db.export()
    assert not (archive / "manifest.json").exists()
    blocker.rmdir()
    db.export()
    _check_export(CloudFiles("file://" + str(archive)), db)


def test_cli(setup, tmp_path):
    import subprocess
    import sys

    import yaml

    _, cfg = setup
    path = tmp_path / "assets.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = lambda *a, **kw: subprocess.run([sys.executable, "-m", "cloudfiles_cli.main", "assets", *a],  # noqa: E731
                                          capture_output=True, text=True, **kw)
    r = run("search", "--config", str(path), "--json", "SELECT asset_name FROM assets WHERE asset_valid = 1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"asset_name": "p-cat001_s-raw001_d-calico-jumping_v001"}]
    env = {**os.environ, "CLOUDFILES_ASSETS_CONFIG": str(path)}
    r = run("create", "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout) == {"assets": 1, "files": 3}
    r = run("search", "--config", str(path), "SELECT nope FROM files")
    assert r.returncode == 1 and r.stderr.startswith("cloudfiles assets search:") and len(r.stderr.splitlines()) == 1
    path.write_text(yaml.safe_dump({**cfg, "write_mode": "x"}))
    r = run("update", "--config", str(path))
    assert r.returncode == 1 and "write_mode" in r.stderr and "Traceback" not in r.stderr


def test_docs_worked_example(tmp_path, monkeypatch):
    """docs/assets.md's specification and search run verbatim on a synthetic tree."""
    import re

    text = open(os.path.join(os.path.dirname(__file__), "..", "docs", "assets.md")).read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    (tmp_path / "specs.py").write_text(blocks[0])
    make_tree(str(tmp_path / "ingress"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assets.yaml").write_text("ingress_directory: ./ingress\nstaging_directory: ./staging\n"
                                          "specification_files: [./specs.py]\n")
    ns: dict = {}
    exec(blocks[1] + "\nresult = " + blocks[1].strip().splitlines()[-1], ns)
    names = sorted(r["filename"] for r in ns["result"])
    assert "p-cat001_s-raw001_d-Tabby-playing_v001_f0002.png" in names and "notes.txt" in names
