"""Finding and removing what interrupted writers leave behind."""
from __future__ import annotations

DEFAULT_OLDER_THAN = 24 * 3600.0  # seconds: a temporary untouched this long is abandoned
