"""dict:// store: the backend of docs/backends.md's "Adding a backend" example,
registered with ``cloudfiles.register_backend``, so the conformance suite
shows a new service needs one module (and the documented example keeps working)."""
import os
import uuid

import pytest

from .base import Store

NAMES = ["dict"]


def _register() -> None:
    from cloudfiles import backends

    if "dict" in backends._REGISTERED:
        return
    doc = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "docs", "backends.md")
    with open(doc) as f:
        text = f.read()
    marker = "<!-- example: register_backend -->\n```python\n"
    start = text.index(marker) + len(marker)
    code = text[start:text.index("```", start)]
    code = code[:code.index('cloudfiles.register_backend("dict", DictBackend)')]  # the class only
    namespace: dict = {"__name__": "dict_example"}
    exec(compile(code, "docs/backends.md", "exec"), namespace)
    backends.register_backend("dict", namespace["DictBackend"])


@pytest.fixture
def store_dict():
    _register()
    return Store("dict", f"dict://bucket-{uuid.uuid4().hex[:10]}/prefix", keeps_metadata=False)
