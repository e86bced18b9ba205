"""fsspec's own abstract filesystem suite (copy, get, put, pipe, open) run
against cloudfiles.fsspec on mem://, file://, S3 (moto) and GCS (the emulator)."""
from __future__ import annotations

import posixpath
import uuid

import pytest
from fsspec.tests import abstract

from cloudfiles.fsspec import CloudFilesFileSystem


class _ObjectStoreFixtures(abstract.AbstractFixtures):
    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def supports_empty_directories(self):
        return False  # object stores: a directory exists while a key lies under it


class _Suites(abstract.AbstractCopyTests, abstract.AbstractGetTests, abstract.AbstractPutTests,
              abstract.AbstractPipeTests, abstract.AbstractOpenTests):
    pass


class TestMem(_ObjectStoreFixtures, _Suites):
    @pytest.fixture
    def fs(self):
        return CloudFilesFileSystem("mem", skip_instance_cache=True)

    @pytest.fixture
    def fs_path(self):
        return f"bucket-{uuid.uuid4().hex[:10]}/root"


class TestS3(_ObjectStoreFixtures, _Suites):
    @pytest.fixture
    def fs(self, s3_server):
        return CloudFilesFileSystem("s3", endpoint=s3_server.endpoint, secrets=s3_server.secrets,
                                    skip_instance_cache=True)

    @pytest.fixture
    def fs_path(self, s3_server):
        return f"{s3_server.make_bucket()}/root"


class TestGCS(_ObjectStoreFixtures, _Suites):
    @pytest.fixture
    def fs(self, gcs_server, monkeypatch):
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
        return CloudFilesFileSystem("gs", skip_instance_cache=True)

    @pytest.fixture
    def fs_path(self, gcs_server):
        return f"{gcs_server.create_bucket()}/root"


class TestFile(_ObjectStoreFixtures, _Suites):
    @pytest.fixture
    def fs(self):
        return CloudFilesFileSystem("file", skip_instance_cache=True)

    @pytest.fixture
    def fs_path(self, tmp_path):
        return str(tmp_path / "root")
