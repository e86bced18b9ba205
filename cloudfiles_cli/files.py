"""``rm``, ``cat``, ``head`` and ``touch``."""
from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import re
import sys
from typing import Optional

import click

from cloudfiles import CloudFiles
from cloudfiles.runner import Runner
from cloudfiles.exceptions import CloudFilesError, NotFoundError, TransferError

from .memory import bound_malloc
from .common import (
    error,
    expand_stdin,
    fail,
    has_wildcard,
    is_dir,
    no_sign_option,
    parse_glob,
    parse_range,
    read_options,
    report_transfer_error,
    resolve,
    strip_local_suffix,
    wrap_errors,
)


def _delete(base: str, keys: list, bar, block_size: int = 0) -> bool:
    """Delete ``keys`` under ``base`` in batches of ``block_size`` (0: all at once, or
    1000 a batch when a progress ``bar`` counts the files)."""
    if not keys:
        return True
    cf = CloudFiles(base)
    try:
        step = block_size or (1000 if bar is not None else len(keys))
        for i in range(0, len(keys), step):
            batch = keys[i:i + step]
            cf.delete(batch)
            if bar is not None:
                bar.update(len(batch))
    except TransferError as err:
        report_transfer_error("rm", err, where=cf.abspath)
        return False
    except CloudFilesError as err:
        error("rm", f"{cf.abspath(keys[0]) if len(keys) == 1 else base}: {err}")
        return False
    return True


def _prune_local(root: str) -> None:
    """Remove the now-empty directories of a recursive local delete (deepest first)."""
    for dirpath, _, _ in sorted(os.walk(root), key=lambda t: -len(t[0])):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


@click.command(help="""Delete files.

    \b
    cloudfiles rm s3://b/a.txt gs://b/c.txt
    cloudfiles rm -r s3://b/dir/test     deletes s3://b/dir/test/... (never dir/test1)
    cloudfiles rm 's3://b/dir/*.tmp'     wildcards: * within a level, ** any depth
    cloudfiles ls -r dir | cloudfiles rm -    paths from stdin
""")
@click.argument("paths", nargs=-1, required=True)
@click.option("-r", "--recursive", is_flag=True, help="Delete directories and everything below them.")
@click.option("-f", "--force", is_flag=True, help="Do not complain about files that do not exist.")
@click.option("--progress", is_flag=True, help="Show a progress bar counting the files deleted.")
@click.option("-b", "--block-size", type=click.IntRange(min=1), default=None,
              help="Files per delete batch (default: all of a directory at once).")
@click.pass_context
def rm(ctx, paths, recursive, force, progress, block_size):
    progress = progress or (ctx.obj or {}).get("progress", False)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc="Deleting", unit=" files")
    try:
        ok = _rm(paths, recursive, force, bar, block_size)
    finally:
        if bar is not None:
            bar.close()
    if not ok:
        ctx.exit(1)


def _rm(paths, recursive: bool, force: bool, progress, block_size: Optional[int]) -> bool:
    ok = True
    groups: dict = {}
    stdin = "-" in paths
    for path in expand_stdin(paths):
        if has_wildcard(path) and not stdin:
            g = parse_glob(path)
            keys = list(g.matches(CloudFiles(g.base)))
            if not keys and not force:
                error("rm", f"{path}: no files match")
                ok = False
            ok &= _delete(g.base, keys, progress, block_size or 0)
            continue
        loc = resolve(path)
        if is_dir(loc, probe_cloud=recursive):
            if not recursive:
                error("rm", f"{path}: is a directory (use -r)")
                ok = False
                continue
            base = loc.as_dir()
            keys = [k for k in CloudFiles(base).list() if not k.endswith("/")]
            # A file with the directory's own name (cloud "dir/test" next to "dir/test/") goes too.
            extra = loc.key and loc.protocol != "file" and not loc.key.endswith("/") \
                and CloudFiles(loc.base).exists(loc.key)
            ok &= _delete(base, keys, progress, block_size or 0)
            if extra:
                ok &= _delete(loc.base, [loc.key], progress, block_size or 0)
            if loc.protocol == "file":
                _prune_local(loc.local_path or "")
            continue
        key, _ = strip_local_suffix(loc)
        if not force and not stdin:
            if not CloudFiles(loc.base).exists(key):
                if loc.protocol != "file" and is_dir(loc):
                    error("rm", f"{path}: is a directory (use -r)")
                else:
                    error("rm", f"{path}: no such file")
                ok = False
                continue
        groups.setdefault(loc.base, []).append(key)
    for base, keys in groups.items():
        ok &= _delete(base, keys, progress, block_size or 0)
    return ok


_RANGE_SUFFIX = re.compile(r"^(.*):(\d*-\d*)$", re.DOTALL)


def _split_range(path: str, byte_range: Optional[str]):
    """``path:A-B`` (or ``--range A-B``) -> ``(path, start, end)``."""
    m = _RANGE_SUFFIX.match(path)
    if m and m.group(2) != "-":
        literal = resolve(path)
        if not (literal.protocol == "file" and os.path.exists(literal.local_path or "")):
            start, end = parse_range(m.group(2))
            return m.group(1), start, end
    if byte_range is not None:
        start, end = parse_range(byte_range)
        return path, start, end
    return path, None, None


def _stream_one(path: str, out, options: Optional[dict] = None) -> Optional[str]:
    """Write one whole file to ``out`` in parallel parts, never holding it whole;
    returns an error message or None."""
    try:
        loc = resolve(path)
        if loc.key == "" or loc.key.endswith("/") or (loc.protocol == "file" and os.path.isdir(loc.local_path or "")):
            return f"{path}: is a directory"
        key, _ = strip_local_suffix(loc)
        for chunk in CloudFiles(loc.base, **(options or {})).stream(key):
            out.write(chunk)
        return None
    except NotFoundError:
        return f"{path}: no such file"
    except Exception as err:  # reported as one line
        return f"{path}: {wrap_errors(err)}"


def _fetch(item, options: Optional[dict] = None):
    path, start, end = item
    try:
        loc = resolve(path)
        if loc.key == "" or loc.key.endswith("/") or (loc.protocol == "file" and os.path.isdir(loc.local_path or "")):
            return None, f"{path}: is a directory"
        key, _ = strip_local_suffix(loc)
        data = CloudFiles(loc.base, **(options or {})).get({"path": key, "start": start, "end": end})
        if data is None:
            return None, f"{path}: no such file"
        return data, None
    except Exception as err:  # reported as one line
        return None, f"{path}: {wrap_errors(err)}"


@click.command(help="""Write files' bytes (decoded) to stdout, in order.

    \b
    cloudfiles cat s3://b/a.txt gs://b/c.json
    cloudfiles cat --range 0-100 s3://b/big.bin   bytes [0, 100) (end exclusive)
    cloudfiles cat s3://b/big.bin:100-            from byte 100 to the end
    cloudfiles ls -r s3://b/logs | cloudfiles cat -
""")
@click.argument("paths", nargs=-1, required=True)
@click.option("-r", "--range", "byte_range", default=None, help="START-END bytes (end exclusive), START- or -END.")
@no_sign_option
@click.pass_context
def cat(ctx, paths, byte_range, no_sign_request):
    bound_malloc()
    items = [_split_range(p, byte_range) for p in expand_stdin(paths)]
    fetch = functools.partial(_fetch, options=read_options(no_sign_request=no_sign_request))
    out = sys.stdout.buffer
    if len(items) == 1 and items[0][1] is None and items[0][2] is None:
        err = _stream_one(items[0][0], out, read_options(no_sign_request=no_sign_request))
        out.flush()
        if err is not None:
            error("cat", err)
            ctx.exit(1)
        return
    ok = True
    with Runner(16).executor(min(16, max(1, len(items)))) as pool:
        for i in range(0, len(items), 64):
            for data, err in pool.map(fetch, items[i:i + 64]):
                if err is not None:
                    out.flush()
                    error("cat", err)
                    ok = False
                else:
                    out.write(data)
    out.flush()
    if not ok:
        ctx.exit(1)


def _jsonable(value):
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


@click.command(help="""Print files' metadata as JSON (size, encoding, type, ETag, md5, ...).

    \b
    cloudfiles head s3://b/a.txt            one JSON object
    cloudfiles head s3://b/a s3://b/c       {path: object, ...} (null when missing)
    cloudfiles head 's3://b/dir/*.json'
""")
@click.argument("paths", nargs=-1, required=True)
@no_sign_option
@click.pass_context
def head(ctx, paths, no_sign_request):
    options = read_options(no_sign_request=no_sign_request)
    results: dict = {}
    ok = True
    single = len(paths) == 1 and not has_wildcard(paths[0]) and paths[0] != "-"
    for path in expand_stdin(paths):
        if has_wildcard(path):
            g = parse_glob(path)
            cf = CloudFiles(g.base, **options)
            keys = list(g.matches(cf))
            if not keys:
                error("head", f"{path}: no files match")
                ok = False
            for k, meta in cf.head(keys).items():
                results[cf.abspath(k)] = meta
            continue
        loc = resolve(path)
        key, _ = strip_local_suffix(loc)
        meta = CloudFiles(loc.base, **options).head(key) if key and not key.endswith("/") else None
        if meta is None:
            error("head", f"{path}: no such file")
            ok = False
        results[path] = meta
    if single:
        value = next(iter(results.values()))
        if value is not None:
            click.echo(json.dumps(value, default=_jsonable, indent=2, sort_keys=True))
    elif results:
        click.echo(json.dumps(results, default=_jsonable, indent=2, sort_keys=True))
    if not ok:
        ctx.exit(1)


@click.command(help="""Create empty files, or refresh the modification time of existing ones.

    \b
    cloudfiles touch s3://b/_SUCCESS ./marker
""")
@click.argument("paths", nargs=-1, required=True)
@click.pass_context
def touch(ctx, paths):
    groups: dict = {}
    for path in expand_stdin(paths):
        loc = resolve(path)
        if loc.key == "" or loc.key.endswith("/") or (loc.protocol == "file" and os.path.isdir(loc.local_path or "")):
            fail(f"{path}: is a directory")
        key, _ = strip_local_suffix(loc)
        groups.setdefault(loc.base, []).append(key)
    ok = True
    for base, keys in groups.items():
        try:
            CloudFiles(base).touch(keys)
        except CloudFilesError as err:
            error("touch", f"{base}: {err}")
            ok = False
    if not ok:
        ctx.exit(1)
