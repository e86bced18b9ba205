"""file:// and mem:// stores: no server needed."""
import uuid

import pytest

from .base import Store

NAMES = ["file", "mem"]


@pytest.fixture
def store_file(tmp_path):
    return Store("file", "file://" + str(tmp_path / "root"), keeps_metadata=False)


@pytest.fixture
def store_mem():
    return Store("mem", f"mem://bucket-{uuid.uuid4().hex[:10]}/prefix")
