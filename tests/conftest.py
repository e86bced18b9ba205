"""Test wiring: every module in tests/stores/ contributes backends to the
conformance suite; ``store`` is parametrised over all of them.

Select backends with ``CLOUDFILES_TEST_BACKENDS=file,mem,s3`` (default: all).
"""
from __future__ import annotations

import importlib
import os
import pkgutil

import pytest

from tests import stores as _stores

_modules = [m.name for m in pkgutil.iter_modules(_stores.__path__) if m.name != "base"]
pytest_plugins = [f"tests.stores.{m}" for m in _modules]



def backends() -> list[str]:
    """Backend names contributed by tests/stores/ modules, filtered by the environment."""
    names: list[str] = []
    for m in _modules:
        names.extend(getattr(importlib.import_module(f"tests.stores.{m}"), "NAMES", []))
    selected = os.environ.get("CLOUDFILES_TEST_BACKENDS")
    return [b for b in names if not selected or b in selected.split(",")]


def pytest_generate_tests(metafunc):
    if "store" in metafunc.fixturenames:
        metafunc.parametrize("store", backends(), indirect=True)


@pytest.fixture
def store(request):
    return request.getfixturevalue(f"store_{request.param}")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep tests away from the user's real ~/.cloudfiles and secrets."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    from cloudfiles import paths

    paths._reset_aliases_for_tests()
    yield
    paths._reset_aliases_for_tests()
