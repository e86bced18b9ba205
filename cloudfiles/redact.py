"""The one rule for hiding secrets in what cloudfiles shows: passwords in URLs.

``https://bob:PW@host/x`` is shown as ``https://bob:***@host/x`` in reprs, error
messages, progress bars and CLI output. Requests still use the real URL.
"""
from __future__ import annotations

import re
from typing import Any

_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/@\s:'\"]*):(?P<pw>[^/@\s'\"]*)@")
MASK = "***"


def redact(text: Any) -> Any:
    """``text`` with every URL password replaced by ``***``; non-strings are returned as they are."""
    if not isinstance(text, str) or "@" not in text:
        return text
    return _USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
