"""fsspec's own abstract filesystem suite (copy, get, put, pipe, open) run
against cloudfiles.fsspec on mem:// and on S3 (moto)."""
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
