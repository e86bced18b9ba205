"""``sync``: make DEST hold what SRC holds, copying only what is new or changed."""
from __future__ import annotations

import click

from cloudfiles import CloudFiles
from cloudfiles.exceptions import CloudFilesError

from .common import MAX_ERROR_LINES, error, fail, no_sign_option, read_options, resolve, wrap_errors
from .memory import bound_malloc

filter_options = [
    click.option("--include", "include", multiple=True, metavar="PATTERN",
                 help="Only files matching PATTERN (repeatable; see 'Filters')."),
    click.option("--exclude", "exclude", multiple=True, metavar="PATTERN",
                 help="Leave out files matching PATTERN (repeatable; wins over --include)."),
]

FILTERS_HELP = """
    \b
    Filters (--include / --exclude, matched against each file's path
    relative to the directory being copied, '/' separated):
      *.tmp         a name at any depth (no '/' in the pattern)
      logs/*.txt    from the root: '*' and '?' stop at '/'
      **/x.bin      '**' crosses '/' (and '**/' may match no directory)
      tmp/          a directory, and everything below it
      /top.txt      a leading '/' anchors a name to the root
    A file is taken when it matches some --include (or none is given) and no
    --exclude: exclude wins, order does not matter.
"""


def with_filters(fn):
    for option in reversed(filter_options):
        fn = option(fn)
    return fn


def _directory(raw: str) -> str:
    loc = resolve(raw)
    if loc.protocol == "file" and loc.local_path and not loc.url.endswith("/"):
        import os

        if os.path.isfile(loc.local_path):
            fail(f"{raw}: not a directory (sync copies directories; use cp for one file)")
    return loc.as_dir()


@click.command(help="""Make DESTINATION hold what SOURCE holds: copy only files that are new or changed.

    \b
    cloudfiles sync ./data s3://bucket/data
    cloudfiles sync --dry-run --delete s3://a/x gs://b/x
    cloudfiles sync --checksum --exclude '*.tmp' gs://b/in ./in

    Both sides are listed once. A file is copied when it is missing at the
    destination, its stored size differs, or comparable listed checksums differ
    (md5/ETag, crc32c; multipart ETags only against the same part count);
    --checksum compares contents when sizes match and no comparable checksum
    is listed. Stored encodings are kept. --delete removes destination files
    that the source lacks, only after both listings completed; --dry-run
    prints every copy and delete and changes nothing. Ends with one summary
    line; exits 1 if any file failed.
""" + FILTERS_HELP)
@click.argument("source")
@click.argument("destination")
@click.option("--delete", is_flag=True, help="Delete destination files absent from the source.")
@click.option("--dry-run", is_flag=True, help="Print every action; change nothing.")
@click.option("--checksum", is_flag=True, help="Compare contents when sizes match (hash where needed).")
@with_filters
@no_sign_option
@click.option("-b", "--block-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Files in flight at a time.")
@click.option("--progress", is_flag=True, help="Show a progress bar.")
@click.option("--cluster", default=None, metavar="SPEC",
              help="Run each batch of checks, copies and deletes on a Dask cluster: "
                   "tcp://HOST:PORT or local:N (docs/scale.md).")
@click.pass_context
def sync(ctx, source, destination, delete, dry_run, checksum, include, exclude, no_sign_request, block_size,
         progress, cluster):
    from cloudfiles.sync import sync as run_sync

    from .common import ctx_progress

    bound_malloc()
    src = CloudFiles(_directory(source), **read_options(no_sign_request=no_sign_request))
    dest = CloudFiles(_directory(destination))

    def show(action) -> None:
        if dry_run:
            click.echo(action.line())

    import contextlib

    cluster_ctx: contextlib.AbstractContextManager = contextlib.nullcontext()
    if cluster is not None:
        from cloudfiles.distributed import cluster_client, parse_spec

        parse_spec(cluster)
        cluster_ctx = cluster_client(cluster)
    try:
        with cluster_ctx as client:
            result = run_sync(src, dest, delete=delete, dry_run=dry_run, include=list(include) or None,
                              exclude=list(exclude) or None, checksum=checksum,
                              progress=ctx_progress(ctx, progress), block_size=block_size, on_action=show,
                              executor=client)
    except CloudFilesError as err:
        done = getattr(err, "result", None)
        if done is not None:
            _report_failures(done, src)
            click.echo(done.summary())
        error("sync", wrap_errors(err))
        ctx.exit(1)
        return
    _report_failures(result, src)
    click.echo(result.summary())
    if not result.ok:
        ctx.exit(1)


def _report_failures(result, src: CloudFiles) -> None:
    items = list(result.failed.items())
    for key, cause in items[:MAX_ERROR_LINES]:
        name = src.abspath(key)
        text = str(cause)
        error("sync", text if name in text else f"{name}: {text}")
    if len(items) > MAX_ERROR_LINES:
        error("sync", f"... and {len(items) - MAX_ERROR_LINES} more files failed")
