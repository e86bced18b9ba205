"""``ls`` and ``du``: both answer from listings (sizes included), never a request per file."""
from __future__ import annotations

import os
from typing import Iterator, Optional

import click

from cloudfiles import CloudFiles

from .common import (
    error,
    expand_expression,
    fail,
    has_wildcard,
    human,
    is_dir,
    no_sign_option,
    parse_glob,
    read_options,
    resolve,
)


def _entries(path: str, recursive: bool, files_only: bool, sizes: bool,
             options: Optional[dict] = None) -> tuple[str, Iterator]:
    """``(base, iterator of key or (key, size))`` for a path, directory, prefix or wildcard.

    ``options`` are extra :class:`CloudFiles` keywords (``no_sign_request`` ...)."""
    options = options or {}
    if has_wildcard(path):
        g = parse_glob(path)
        return g.base, g.matches(CloudFiles(g.base, **options), files_only=files_only, sizes=sizes)
    loc = resolve(path)
    if loc.protocol == "file" and not os.path.exists(os.path.dirname((loc.local_path or "").rstrip("/")) or "/"):
        fail(f"{path}: no such file or directory")
    if is_dir(loc, probe_cloud=False) or (loc.protocol != "file" and recursive and is_dir(loc, **options)):
        base, prefix = loc.as_dir(), ""
    else:
        base, prefix = loc.base, loc.key
    cf = CloudFiles(base, **options)
    if sizes:
        it = cf.list_sizes(prefix, flat=not recursive)
        return base, ((k, s) for k, s in it if not (files_only and k.endswith("/")))
    return base, (k for k in cf.list(prefix, flat=not recursive) if not (files_only and k.endswith("/")))


@click.command(help="""List files: everything below a directory or prefix (as cloud-files does).

    \b
    cloudfiles ls s3://bucket/dir         every file below s3://bucket/dir/
    cloudfiles ls --flat s3://bucket/dir/ one level (directories end in '/')
    cloudfiles ls s3://bucket/dir/ab      names starting with 'ab' (and below them)
    cloudfiles ls 's3://bucket/dir/*.png' wildcards: * within a level, ** any depth
    cloudfiles ls -e 'gs://b/x/[ab][0-9]' every prefix the bracket sets generate
    cloudfiles ls --no-auth s3://public-bucket/dir   anonymous (public data)
""")
@click.argument("paths", nargs=-1, required=True)
@click.option("--flat", is_flag=True, help="One level only (directories end in '/').")
@click.option("-r", "--recursive", is_flag=True,
              help="Everything below (the default; kept for scripts that pass it).")
@click.option("--shortpath", is_flag=True, help="Print names relative to the listed directory.")
@click.option("-e", "--expr", is_flag=True,
              help="Expand [abc], [a-f] and [ab]{2} bracket sets into prefixes (cartesian product).")
@click.option("--no-auth", is_flag=True,
              help="Read-only anonymous access: unsigned S3 requests, gs:// through its public HTTPS API.")
@no_sign_option
def ls(paths, flat, recursive, shortpath, expr, no_auth, no_sign_request):
    if flat and recursive:
        fail("--flat and -r exclude each other")
    options = read_options(no_sign_request=no_sign_request, no_auth=no_auth)
    out = click.get_text_stream("stdout")
    for path in paths:
        targets = expand_expression(path) if expr else [path]
        for target in targets:
            base, keys = _entries(target, not flat, files_only=False, sizes=False, options=options)
            lines = []
            count = 0
            for key in keys:
                count += 1
                lines.append(key if shortpath else base + key)
                if len(lines) >= 1000:
                    out.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                out.write("\n".join(lines) + "\n")
            if count == 0 and not expr and not has_wildcard(target):
                loc = resolve(target)
                if loc.protocol == "file" and not os.path.exists(loc.local_path or ""):
                    fail(f"{target}: no such file or directory")
    out.flush()


@click.command(help="""Disk usage: stored bytes, from listings.

    \b
    cloudfiles du s3://b/dir           one line per file
    cloudfiles du -s s3://b/dir        a total per argument
    cloudfiles du -sch a/ b/           totals, a grand total, human units
    cloudfiles du -sN s3://b/dir       also count the files
    cloudfiles du -se s3://b/dir       also a total per file extension

    A directory argument covers everything below it (dir/test counts dir/test/...
    never dir/test1).
""")
@click.argument("paths", nargs=-1, required=True)
@click.option("-s", "--summarize", is_flag=True, help="One total per argument.")
@click.option("-c", "--grand-total", is_flag=True, help="Add a grand total of all arguments.")
@click.option("-h", "--human-readable", is_flag=True, help="Binary units (KiB, MiB, ...).")
@click.option("-N", "--count-files", is_flag=True, help="Also report the number of files.")
@click.option("-e", "--group-by-ext", is_flag=True, help="Also total the bytes per file extension, largest first.")
@no_sign_option
@click.pass_context
def du(ctx, paths, summarize, grand_total, human_readable, count_files, group_by_ext, no_sign_request):
    fmt = human if human_readable else str
    options = read_options(no_sign_request=no_sign_request)
    grand = 0
    nfiles = 0
    by_ext: dict = {}
    bad = False
    for path in paths:
        total = 0
        count = 0
        if has_wildcard(path):
            base, it = _entries(path, True, files_only=True, sizes=True, options=options)
        else:
            loc = resolve(path)
            if is_dir(loc, **options):
                base = loc.as_dir()
                it = CloudFiles(base, **options).list_sizes("", flat=False)
            else:
                base = loc.base
                size = CloudFiles(base, **options).size(loc.key)
                if size is None:
                    error("du", f"{path}: no such file or directory")
                    bad = True
                    continue
                it = iter([(loc.key, size)])
        for key, size in it:
            if key.endswith("/"):
                continue
            size = size or 0
            total += size
            count += 1
            if group_by_ext:
                ext = extension(key)
                by_ext[ext] = by_ext.get(ext, 0) + size
            if not summarize:
                click.echo(f"{fmt(size)}\t{base + key}")
        if summarize:
            click.echo(f"{fmt(total)}\t{path}")
        grand += total
        nfiles += count
    if grand_total:
        click.echo(f"{fmt(grand)}\ttotal")
    if count_files:
        click.echo(f"{nfiles}\tfiles")
    if group_by_ext:
        click.echo("\nUsage by file extension:")
        for ext, size in sorted(by_ext.items(), key=lambda kv: (-kv[1], kv[0])):
            click.echo(f"{fmt(size)}\t{ext}")
    if bad:
        ctx.exit(1)


def extension(key: str) -> str:
    """``a/b.PNG`` -> ``.png``; no extension -> ``(no extension)`` (cloud-files' grouping)."""
    ext = os.path.splitext(key.rsplit("/", 1)[-1])[1].lower()
    return ext or "(no extension)"
