"""The one guard every paged listing loop (S3, GCS, HTTP) runs through.

A listing comes from a server and is untrusted. Real services return names in
ascending order and hand out a fresh continuation token per page, so a loop
that follows tokens ends. A hostile or broken server can repeat a token
forever, cycle between tokens, or send empty pages without end. The guard
makes each of those an error instead of an endless loop:

* a token equal to one already followed (all tokens are remembered up to
  ``TOKEN_MEMORY``; beyond that the key order below still catches cycles);
* a page whose smallest name is not greater than the largest name of the
  pages before it (each of ``keys`` and ``prefixes`` must keep ascending);
* a name that does not start with the prefix asked for;
* more than ``MAX_EMPTY_PAGES`` empty pages in a row;
* more than ``max_pages`` pages (``CLOUDFILES_LIST_MAX_PAGES``, default
  1,000,000 -- a billion keys at 1000 a page).

Each raises :class:`cloudfiles.exceptions.ListingError` naming the request.
"""
from __future__ import annotations

import hashlib
import os
from typing import Iterable, Optional

from .exceptions import InvalidInputError, ListingError

DEFAULT_MAX_PAGES = 1_000_000
MAX_EMPTY_PAGES = 100
TOKEN_MEMORY = 100_000


def max_pages_setting() -> int:
    """The page bound from ``CLOUDFILES_LIST_MAX_PAGES`` (default 1,000,000)."""
    raw = os.environ.get("CLOUDFILES_LIST_MAX_PAGES")
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_PAGES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidInputError(f"CLOUDFILES_LIST_MAX_PAGES must be a positive integer, got {raw!r}")
    return value


class PageGuard:
    """Checks one listing's pages and tokens; ``what`` names the request in errors."""

    def __init__(self, what: str, prefix: str = "", max_pages: Optional[int] = None):
        self.what = what
        self.prefix = prefix
        self.max_pages = max_pages if max_pages is not None else max_pages_setting()
        self.pages = 0
        self._empty_run = 0
        self._last: dict[str, str] = {}
        self._tokens: set[bytes] = set()
        self._last_token: Optional[str] = None

    def count(self) -> None:
        """Count the page about to be requested against the bound (call before each request)."""
        self.pages += 1
        if self.pages > self.max_pages:
            raise ListingError(f"{self.what}: more than {self.max_pages} listing pages "
                               "(raise CLOUDFILES_LIST_MAX_PAGES for a larger listing)")

    def page(self, keys: Iterable[str] = (), prefixes: Iterable[str] = ()) -> None:
        """Check one page of full names (as the server sent them)."""
        empty = True
        for stream, names in (("keys", keys), ("prefixes", prefixes)):
            names = list(names)
            if not names:
                continue
            empty = False
            for n in names:
                if not n.startswith(self.prefix):
                    raise ListingError(f"{self.what}: the server listed {n[:200]!r}, "
                                       f"which is not under the prefix {self.prefix!r} asked for")
            low, high = min(names), max(names)
            last = self._last.get(stream)
            if last is not None and low <= last:
                raise ListingError(f"{self.what}: page {self.pages} goes backwards ({low[:200]!r} after "
                                   f"{last[:200]!r}); the server's listing does not advance")
            self._last[stream] = high
        self._empty_run = self._empty_run + 1 if empty else 0
        if self._empty_run > MAX_EMPTY_PAGES:
            raise ListingError(f"{self.what}: {self._empty_run} empty listing pages in a row; "
                               "the server's listing does not advance")

    def token(self, token: str) -> str:
        """Return ``token`` to follow next, or raise if it was already followed."""
        digest = hashlib.blake2b(token.encode("utf-8", "surrogateescape"), digest_size=16).digest()
        if token == self._last_token or digest in self._tokens:
            raise ListingError(f"{self.what}: the server repeated continuation token {token[:80]!r} "
                               f"after {self.pages} pages; the listing would never end")
        if len(self._tokens) < TOKEN_MEMORY:
            self._tokens.add(digest)
        self._last_token = token
        return token


def subtree_after(directory: str, start_after: Optional[str]) -> Optional[bool]:
    """Which keys of a directory (every key starting with ``directory``, which ends
    in '/') are greater than ``start_after``: True all, False none, None some (walk in)."""
    if start_after is None:
        return True
    if start_after.startswith(directory):
        return None
    return start_after < directory
