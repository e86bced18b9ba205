"""The ``file://`` listing walk: keys in sorted order, streamed.

Memory is bounded by the entries of the directories on the current path
(one sorted list per level, consumed as the walk goes), never by the size
of the tree: directories are read one at a time, each sorted on its own, and
because a directory ``d`` sorts among its siblings as ``'d/'`` (its keys all
start with that) a depth-first walk in that order yields the global key
order -- ``'a-b' < 'a.b' < 'a/…' < 'a0'``, plain string order of the full key.

Compressed files (``name.gz`` …) list as their key (``name``); when a key has
several stored names, the one :mod:`.localwrite`'s read order picks (the one
``get`` reads) is listed, once.

Symlinks (the rule the whole-tree walk this replaced enforced, kept):

* a link whose target resolves outside the root, or nowhere, is neither
  followed nor listed; sockets, devices and the like are not listed;
* the real tree below the listing's start is walked once; a link to a
  directory in that part of the tree (``d/loop -> .``, ``d/up -> ..`` when
  the listing starts at the root, ``alias -> d``) adds nothing, so nothing is
  listed twice;
* a link to a directory inside the root but outside what the walk covers is
  followed, once: the first such link in key order wins, and links to a
  directory already followed, or inside one, add nothing. (Real directories
  met inside a followed tree that the walk covers elsewhere, or that another
  link already followed, are skipped the same way.)
* a directory that is its own ancestor (a bind-mount loop) is not re-entered.

With ``start_after``, directories whose keys are all at or before it are not
read at all. The one case where that changes what is listed: when two links
lead to the same directory and the first lies before ``start_after``, the
directory is listed under the second.
"""
from __future__ import annotations

import datetime as _dt
import os
from typing import Iterator, Optional

from .. import keys
from ..compression import SUFFIX_TO_ENCODING
from ..listings import subtree_after
from ..meta import ObjectMeta
from . import localwrite

_FILE, _DIR, _LINK = 0, 1, 2
_RANK = {suffix: i for i, suffix in enumerate(localwrite.SUFFIXES)}  # the read order: '' first
_SUFFIXES = tuple(SUFFIX_TO_ENCODING)
_TMP_MARK = localwrite.TMP_MARK


def walk(real_root: str, start: str, rel_base: str, name_filter: str, flat: bool, detail: int,
         start_after: Optional[str] = None) -> Iterator[ObjectMeta]:
    """:class:`ObjectMeta` of every key below directory ``start`` (whose keys begin with
    ``rel_base``) whose first name starts with ``name_filter``; ``flat`` lists one
    level (directories as ``'name/'``). ``detail`` 1 adds the size, 2 size and mtime,
    from one ``stat`` per file; with 0 nothing but the directories is read."""
    real_start = os.path.realpath(start)

    def covered(real: str) -> bool:
        """Whether the walk of the real tree below ``start`` reaches directory ``real``."""
        if real == real_start:
            return True
        if not real.startswith(real_start.rstrip(os.sep) + os.sep):
            return False
        first = real[len(real_start.rstrip(os.sep)) + 1:].split(os.sep, 1)[0]
        return first.startswith(name_filter) and _TMP_MARK not in first

    followed: list[str] = []  # resolved targets of followed links
    top = _read(real_root, start, rel_base, name_filter, flat, start_after)
    if top is None:
        return
    # each frame: (sorted entries, next index, identity of the directory, inside a followed link)
    stack: list[list] = [[top[0], 0, top[1], False]]
    ancestors = {top[1]}
    last_key = None
    while stack:
        frame = stack[-1]
        entries, i = frame[0], frame[1]
        if i >= len(entries):
            stack.pop()
            ancestors.discard(frame[2])
            continue
        frame[1] = i + 1
        entries[i], (key, _, kind, path) = None, entries[i]  # free entries as they are consumed
        if kind == _FILE or flat:
            if key == last_key:
                continue  # name and name.gz both present: the first in the read order is listed
            meta = _meta(key, path, kind, detail)
            if meta is not None:
                last_key = key
                yield meta
            continue
        in_link = frame[3]
        if kind == _LINK:
            real = os.path.realpath(path)
            if covered(real) or any(real == f or real.startswith(f + os.sep) for f in followed):
                continue
            followed.append(real)
            path, in_link = real, True
        elif in_link and (covered(path) or path in followed):
            continue
        sub = _read(real_root, path, key, "", False, None if subtree_after(key, start_after) else start_after)
        if sub is None or sub[1] in ancestors:
            continue
        ancestors.add(sub[1])
        stack.append([sub[0], 0, sub[1], in_link])


def _meta(key: str, path: str, kind: int, detail: int) -> Optional[ObjectMeta]:
    if kind != _FILE:
        return ObjectMeta(key=key)
    dot = path.rfind(".")
    encoding = SUFFIX_TO_ENCODING.get(path[dot:]) if dot > path.rfind(os.sep) else None
    meta = ObjectMeta(key=key, encoding=encoding)
    if detail:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None  # removed since the directory was read
        meta.size = st.st_size
        if detail > 1:
            meta.last_modified = _dt.datetime.fromtimestamp(st.st_mtime, tz=_dt.timezone.utc)
    return meta


def _read(real_root: str, directory: str, rel: str, name_filter: str, flat: bool,
          start_after: Optional[str]) -> Optional[tuple[list, tuple[int, int]]]:
    """The sorted entries ``(key, rank, kind, path)`` of one directory that can hold keys
    after ``start_after``, and the directory's identity; None if it cannot be read."""
    try:
        st = os.stat(directory)
        scanner = os.scandir(directory)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    out = []
    with scanner:
        for entry in scanner:
            name = entry.name
            if _TMP_MARK in name:
                continue
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir()
                if is_link and not keys.inside(real_root, os.path.realpath(entry.path)):
                    continue  # leads outside the root: not followed, not listed
                if not is_dir and not entry.is_file():
                    continue  # dangling link, socket, device ...
            except OSError:
                continue
            if is_dir:
                if name_filter and not name.startswith(name_filter):
                    continue
                key = rel + name + "/"
                if flat:
                    if start_after is not None and key <= start_after:
                        continue
                elif subtree_after(key, start_after) is False:
                    continue
                out.append((key, 0, _LINK if is_link and not flat else _DIR, entry.path))
                continue
            rank = 0
            if name.endswith(_SUFFIXES):
                dot = name.rfind(".")
                rank = _RANK.get(name[dot:], 0)
                name = name[:dot]
            if name_filter and not name.startswith(name_filter):
                continue
            key = rel + name
            if start_after is not None and key <= start_after:
                continue
            out.append((key, rank, _FILE, entry.path))
    out.sort()
    return out, (st.st_dev, st.st_ino)
