"""``cp`` and ``mv``: plan which files go where (cp's naming rules), then hand
each (source dir, destination dir, pairs) job to :func:`cloudfiles.transfer.transfer`."""
from __future__ import annotations

import os
import posixpath
import sys
from dataclasses import dataclass
from typing import Optional

import click

from cloudfiles import CloudFiles
from cloudfiles.exceptions import CloudFilesError, NotFoundError, TransferError
from cloudfiles.runner import Runner
from cloudfiles.transfer import TransferResult, move_files

from .memory import bound_malloc
from .sync import FILTERS_HELP, with_filters
from .resumable import run_resumable
from .common import (
    CLIError,
    Loc,
    ctx_parallel,
    ctx_progress,
    error,
    expand_stdin,
    fail,
    has_wildcard,
    is_dir,
    no_sign_option,
    parse_glob,
    read_options,
    report_transfer_error,
    resolve,
    strip_local_suffix,
)

COMPRESSIONS = ["same", "none", "gzip", "br", "zstd", "xz", "bzip2"]


@dataclass
class Job:
    """Copy ``pairs`` (``None``: everything below ``src``) from the ``src`` directory to ``dest``."""

    src: str
    dest: str
    pairs: Optional[list]
    label: str


class _Dest:
    """The destination, with its "is it a directory?" answer computed once, on demand."""

    def __init__(self, raw: str):
        self.loc: Loc = resolve(raw)
        self._is_dir: Optional[bool] = None

    def is_dir(self) -> bool:
        if self._is_dir is None:
            self._is_dir = self.loc.url.endswith("/") or is_dir(self.loc, probe_cloud=True)
        return self._is_dir

    def as_dir(self) -> str:
        return self.loc.as_dir()


def _join_dir(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name.strip("/") + "/"


def _stdin_job(lines: list[str], dest: Optional[_Dest]) -> Job:
    """Paths read from stdin keep their layout relative to their common directory."""
    locs = [resolve(line) for line in lines]
    urls = [loc.url for loc in locs]
    common = posixpath.commonprefix(urls)
    common = common[: common.rfind("/") + 1]
    roots = {loc.protocol for loc in locs}
    if len(roots) > 1 or common.endswith("://") or not common:
        fail("paths read from stdin must share one service and bucket")
    probe = resolve(common)
    if probe.key == "" and probe.url != common and not common.startswith(probe.url):
        fail("paths read from stdin must share one bucket")
    pairs = []
    for loc in locs:
        rel = loc.url[len(common):]
        if not rel or rel.endswith("/"):
            fail(f"{loc.raw}: a directory cannot be read from stdin (list its files instead)")
        pairs.append((rel, rel))
    return Job(common, dest.as_dir() if dest else "", pairs, "-")


def plan(sources: tuple, destination: Optional[str], recursive: bool, options: Optional[dict] = None,
         resume: bool = False) -> list[Job]:
    """Apply cp's naming rules to every source (``destination=None`` means stdout).

    ``options``: extra :class:`CloudFiles` keywords for reading the sources.
    ``resume``: a directory copied onto an existing destination that an earlier,
    interrupted run created (see :func:`_earlier_run_named_dest`) goes on in it
    instead of nesting below it."""
    options = options or {}
    dest = _Dest(destination) if destination is not None else None
    stdin = "-" in sources
    many = len(sources) > 1 or stdin or any(has_wildcard(s) for s in sources)
    if dest is not None and many and dest.loc.protocol == "file" and os.path.isfile(dest.loc.local_path or ""):
        fail(f"{destination}: not a directory (copying several files needs a directory)")
    jobs: list[Job] = []
    singles: dict = {}
    for src in sources:
        if src == "-":
            lines = expand_stdin(["-"])
            if lines:
                jobs.append(_stdin_job(lines, dest))
            continue
        if has_wildcard(src):
            g = parse_glob(src)
            keys = list(g.matches(CloudFiles(g.base, **options)))
            if not keys:
                fail(f"{src}: no files match")
            jobs.append(Job(g.base, dest.as_dir() if dest else "", [(k, k) for k in keys], src))
            continue
        loc = resolve(src)
        if is_dir(loc, probe_cloud=recursive, **options):
            if not recursive:
                fail(f"{src}: is a directory (use -r to copy it)")
            if dest is None:
                jobs.append(Job(loc.as_dir(), "", None, src))
                continue
            if dest.loc.protocol == "file" and os.path.isfile(dest.loc.local_path or ""):
                fail(f"{destination}: not a directory (cannot copy directory {src} onto a file)")
            if loc.key == "":
                target = dest.as_dir()  # a bucket/root: its contents
            elif many:
                target = _join_dir(dest.as_dir(), loc.name)
            elif dest.is_dir():
                target = _join_dir(dest.as_dir(), loc.name)
                if resume and not dest.loc.url.endswith("/") and _earlier_run_named_dest(loc, dest, options):
                    target = dest.as_dir()
            else:
                target = dest.as_dir()
            if target.rstrip("/") == loc.url.rstrip("/") or target.startswith(loc.as_dir()):
                fail(f"{src}: cannot copy a directory into itself ({target})")
            jobs.append(Job(loc.as_dir(), target, None, src))
            continue
        key, suffix = strip_local_suffix(loc)
        if dest is None:
            singles.setdefault((loc.base, ""), []).append((key, key))
            continue
        if many or dest.is_dir():
            dest_base, dkey = dest.as_dir(), posixpath.basename(key)
        else:
            dest_base, dkey = dest.loc.base, dest.loc.key
            if suffix and dest.loc.protocol == "file" and dkey.endswith(suffix) and len(dkey) > len(suffix):
                dkey = dkey[: -len(suffix)]
        singles.setdefault((loc.base, dest_base), []).append((key, dkey))
    for (src_base, dest_base), pairs in singles.items():
        jobs.append(Job(src_base, dest_base, pairs, src_base))
    return jobs


def _top_level(url: str, options: Optional[dict] = None) -> set[str]:
    """Names one level below the directory ``url`` ('sub/' for directories)."""
    return set(CloudFiles(url, **(options or {})).list(flat=True))


def _earlier_run_named_dest(src: Loc, dest: _Dest, options: Optional[dict]) -> bool:
    """Did an earlier ``cp -r SRC DEST`` make DEST the copy itself (DEST did not exist then)?

    Then DEST holds only names SRC has at its top level (an interrupted copy is
    a part of it), while a copy nested as DEST/NAME/ shows NAME/ in DEST.
    When both fit (SRC itself has a NAME/ and DEST holds only that), the level
    below NAME/ decides: SRC/NAME/'s names mean DEST naming, SRC's top-level
    names mean nesting.
    """
    here = _top_level(dest.as_dir())
    theirs = _top_level(src.as_dir(), options)
    if not here or not here <= theirs:
        return False
    nested = src.name + "/"
    if here != {nested}:
        return True
    below = _top_level(_join_dir(dest.as_dir(), src.name))
    src_below = _top_level(_join_dir(src.as_dir(), src.name), options)
    return below <= src_below or not below <= theirs


def apply_filters(jobs: list[Job], include: tuple, exclude: tuple, options: Optional[dict] = None) -> list[Job]:
    """Keep, in each job, the files selected by ``include``/``exclude`` (:mod:`cloudfiles.filters`),
    matched against their keys relative to the job's source directory. A directory job is
    listed once here, with sizes, so the copy needs no request per file to size them."""
    from cloudfiles.filters import key_filter

    select = key_filter(list(include) or None, list(exclude) or None)
    if select is None:
        return jobs
    out = []
    for job in jobs:
        if job.pairs is None:
            cf = CloudFiles(job.src, **(options or {}))
            pairs: list = [{"path": k, "dest_path": k, "size": size} for k, size in cf.list_sizes()
                           if not k.endswith("/") and select(k)]
        else:
            pairs = [p for p in job.pairs if select(p[0])]
        out.append(Job(job.src, job.dest, pairs, job.label))
    return out


def _reencode(compression: str):
    c = compression.lower()
    if c == "same":
        return None
    return "none" if c == "none" else c


# Small files sent to stdout are fetched in parallel batches of at most this many bytes.
_STDOUT_BATCH_BYTES = 64 * 1024 * 1024


def _write_stdout(job: Job, block_size: int, options: Optional[dict] = None) -> list[str]:
    """Decoded bytes of each file, in order; returns the paths that failed.

    Files whose size is known to be small (from the listing) are fetched in
    parallel batches bounded by count and bytes; every other file is streamed
    in parallel parts, so no file is ever held whole.
    """
    cf = CloudFiles(job.src, **(options or {}))
    if job.pairs is not None:
        sized = [(p["path"], p.get("size")) if isinstance(p, dict) else (p[0], None) for p in job.pairs]
    else:
        sized = [(k, s) for k, s in cf.list_sizes() if not k.endswith("/")]
    threshold = cf.stream_settings.threshold
    out = sys.stdout.buffer
    failed: list[str] = []
    i = 0
    while i < len(sized):
        key, size = sized[i]
        if size is None or size > threshold:
            if not _stream_stdout(cf, key, out):
                failed.append(key)
            i += 1
            continue
        batch, total = [], 0
        while i < len(sized) and len(batch) < block_size:
            k, s = sized[i]
            if s is None or s > threshold or (batch and total + s > _STDOUT_BATCH_BYTES):
                break
            batch.append(k)
            total += s
            i += 1
        results = {r["path"]: r for r in cf.get(batch)}
        for k in batch:
            r = results[k]
            if r["error"] is not None:
                error("cp", f"{cf.abspath(k)}: {r['error']}")
                failed.append(k)
            elif r["content"] is None:
                error("cp", f"{cf.abspath(k)}: no such file")
                failed.append(k)
            else:
                out.write(r["content"])
    out.flush()
    return failed


def _stream_stdout(cf: CloudFiles, key: str, out) -> bool:
    """Stream one file to ``out`` in parallel parts; False (reported) if it failed."""
    try:
        for chunk in cf.stream(key):
            out.write(chunk)
        return True
    except NotFoundError:
        error("cp", f"{cf.abspath(key)}: no such file")
    except CloudFilesError as err:
        error("cp", f"{cf.abspath(key)}: {err}")
    return False


def _run(command: str, jobs: list[Job], move: bool, reencode, block_size: int, skip, parallel: int,
         progress: bool, src_options: Optional[dict] = None, dest_options: Optional[dict] = None,
         executor=None, batch_size: Optional[int] = None) -> bool:
    """Run every job; with ``executor`` (a Dask client) the copies run on the cluster
    and a summary line (copied, skipped, failed, bytes) goes to stderr."""
    ok = True
    total = TransferResult()
    for job in jobs:
        src = CloudFiles(job.src, **(src_options or {}))
        dest = CloudFiles(job.dest, **(dest_options or {}))
        try:
            if move:
                pairs = job.pairs
                if pairs is None:
                    pairs = [(k, k) for k in src.list() if not k.endswith("/")]
                runner = Runner(max(src.num_threads, dest.num_threads, 1), src.green, src.executor)
                move_files(src.core, dest.core, pairs, block_size=block_size, progress=progress,
                           reencode=reencode, parallel=parallel, runner=runner)
                if job.pairs is None and src.protocol == "file":
                    _remove_empty_dirs(src.path.path)
            else:
                res = src.transfer_to(dest, job.pairs, block_size=block_size, reencode=reencode,
                                      progress=progress, skip_existing=skip, parallel=parallel,
                                      executor=executor, batch_size=batch_size)
                total.merge(res)
        except TransferError as err:
            ok = False
            if getattr(err, "result", None) is not None:
                total.merge(err.result)
            _explain_directories(src, err)
            report_transfer_error(command, err, where=src.abspath)
    if executor is not None:
        click.echo(f"cloudfiles: {command}: {total.transferred} copied ({total.bytes} bytes, "
                   f"{total.server_side} server-side), {total.skipped} skipped, "
                   f"{len(total.missing)} missing, {len(total.failed)} failed", err=True)
    return ok


def _explain_directories(src: CloudFiles, err: TransferError) -> None:
    """A "missing" cloud file that is really a prefix with files below gets a clearer cause."""
    if src.protocol == "file" or len(err.errors) > 20:
        return
    for key, cause in list(err.errors.items()):
        if isinstance(cause, NotFoundError) and src.isdir(key):
            err.errors[key] = CLIError(f"{src.abspath(key)}: is a directory (use -r to copy it)")


def _remove_empty_dirs(root: str) -> None:
    for dirpath, _, _ in sorted(os.walk(root), key=lambda t: -len(t[0])):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


_NAMING = """
    \b
    Naming (as cp does):
      cloudfiles cp a.txt s3://b/dir/      -> s3://b/dir/a.txt
      cloudfiles cp a.txt s3://b/new.txt   -> s3://b/new.txt
      cloudfiles cp -r data s3://b/x       -> s3://b/x/... if s3://b/x/ has files (becomes x/data/...)
                                              otherwise the copy is s3://b/x/...
      cloudfiles cp --resume -r data s3://b/x   after an interrupted first run: finishes s3://b/x/...
                                              (x/ holding only names data/ has means the first run made it)
      cloudfiles cp 'dir/*.png' gs://b/img/  (wildcards: * one level, ** any depth)
      cloudfiles ls -r dir | cloudfiles cp - s3://b/dir/   (paths from stdin keep their layout)
      cloudfiles cp s3://b/a.txt -         (bytes to stdout)

    A cloud destination is a directory when it ends in '/' or has files below it.
    Compressed files (name.gz on disk) keep their encoding; -c changes it.
""" + FILTERS_HELP.replace("being copied", "being copied (a file's name, for single files)")


@click.command(help="Copy files between any two places (file://, s3://, gs://, mem://, http(s)://).\n"
               "\n    SOURCE '-' reads paths from stdin (one per line); DESTINATION '-' writes the "
               "bytes to stdout.\n" + _NAMING)
@click.argument("sources", nargs=-1, required=True)
@click.argument("destination", nargs=1)
@click.option("-r", "--recursive", is_flag=True, help="Copy directories and everything below them.")
@click.option("-c", "--compression", type=click.Choice(COMPRESSIONS, case_sensitive=False), default="same",
              show_default=True, help="Encoding to store at the destination ('same' keeps each file's).")
@click.option("-n", "--no-clobber", is_flag=True, help="Skip files that already exist at the destination.")
@click.option("--resume", is_flag=True,
              help="Skip files already copied intact (same size and checksum), so an interrupted copy "
                   "finishes without re-sending.")
@click.option("--resumable", is_flag=True,
              help="Downloads to local files go to NAME.part first and a rerun continues a .part "
                   "where it stopped (as cloud-files' --resumable).")
@click.option("--part-bytes", type=click.IntRange(min=1), default=None,
              help="Copy files larger than this many bytes in parallel parts (default 16 MiB).")
@no_sign_option
@click.option("-p", "--parallel", type=int, default=None, help="Processes (default: the global -p).")
@click.option("-b", "--block-size", type=click.IntRange(min=1), default=128, show_default=True,
              help="Files in flight at a time (per process).")
@click.option("--progress", is_flag=True, help="Show a progress bar.")
@click.option("--cluster", default=None, metavar="SPEC",
              help="Run the copies on a Dask cluster: tcp://HOST:PORT (a running scheduler) or local:N "
                   "(N worker processes here). Workers use their own credentials (docs/scale.md).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Files per batch sent to a --cluster worker (default 500).")
@with_filters
@click.pass_context
def cp(ctx, sources, destination, recursive, compression, no_clobber, resume, resumable, part_bytes,
       no_sign_request, parallel, block_size, progress, cluster, batch_size, include, exclude):
    bound_malloc()
    src_options, dest_options = _options(no_sign_request, part_bytes)
    if destination == "-":
        jobs = apply_filters(plan(sources, None, recursive, src_options), include, exclude, src_options)
        failed = []
        for job in jobs:
            failed += _write_stdout(job, block_size, src_options)
        if failed:
            ctx.exit(1)
        return
    if cluster is not None:
        from cloudfiles.distributed import parse_spec

        parse_spec(cluster)  # a bad spec fails before any listing
    jobs = apply_filters(plan(sources, destination, recursive, src_options, resume=resume), include, exclude,
                         src_options)
    skip = "checksum" if resume else ("exists" if no_clobber else False)

    def run(todo: list, executor=None) -> bool:
        return _run("cp", todo, False, _reencode(compression), block_size, skip, ctx_parallel(ctx, parallel),
                    ctx_progress(ctx, progress), src_options, dest_options, executor, batch_size)

    if cluster is not None:
        if resumable:
            raise CLIError("--resumable (partial local downloads) cannot run on a --cluster; use --resume")
        from cloudfiles.distributed import cluster_client

        with cluster_client(cluster) as client:
            ok = run(jobs, client)
    elif resumable:
        ok = run_resumable("cp", jobs, block_size, src_options, dest_options, _reencode(compression), run)
    else:
        ok = run(jobs)
    if not ok:
        ctx.exit(1)


def _options(no_sign_request: bool, part_bytes: Optional[int]) -> tuple[dict, dict]:
    """:class:`CloudFiles` keywords for the sources and the destination."""
    src = read_options(no_sign_request=no_sign_request)
    dest: dict = {}
    if part_bytes is not None:
        from cloudfiles.streaming import DEFAULT

        # Files above the threshold go in parts, of at most the threshold each (the service's
        # minimum part size still applies: S3 5 MiB).
        parts = {"large_threshold": part_bytes, "composite_upload_threshold": part_bytes,
                 "part_size": min(part_bytes, DEFAULT.part_size)}
        src.update(parts)
        dest.update(parts)
    return src, dest


_MV_EXAMPLES = """
    \b
    Naming (as mv does; the same rules as cp):
      cloudfiles mv a.txt s3://b/dir/      -> s3://b/dir/a.txt (a.txt is deleted)
      cloudfiles mv s3://b/x.txt s3://b/y.txt   (server-side copy, then delete)
      cloudfiles mv -r data s3://b/x       -> s3://b/x/... (s3://b/x/data/... if x/ has files)
      cloudfiles mv 's3://b/tmp/*.png' gs://b/img/
      cloudfiles ls -r old | cloudfiles mv - s3://b/archive/

    A source is deleted only after its copy arrived; failed files stay where they were.
"""


@click.command(help="Move files: copy them (server-side where possible), then delete each source "
               "that arrived.\n\n    SOURCE '-' reads paths from stdin.\n" + _MV_EXAMPLES)
@click.argument("sources", nargs=-1, required=True)
@click.argument("destination", nargs=1)
@click.option("-r", "--recursive", is_flag=True, help="Move directories and everything below them.")
@click.option("-c", "--compression", type=click.Choice(COMPRESSIONS, case_sensitive=False), default="same",
              show_default=True, help="Encoding to store at the destination.")
@click.option("--part-bytes", type=click.IntRange(min=1), default=None,
              help="Copy files larger than this many bytes in parallel parts (default 16 MiB).")
@no_sign_option
@click.option("-p", "--parallel", type=int, default=None, help="Processes (default: the global -p).")
@click.option("-b", "--block-size", type=click.IntRange(min=1), default=128, show_default=True,
              help="Files in flight at a time.")
@click.option("--progress", is_flag=True, help="Show a progress bar.")
@click.pass_context
def mv(ctx, sources, destination, recursive, compression, part_bytes, no_sign_request, parallel, block_size,
       progress):
    bound_malloc()
    if destination == "-":
        raise CLIError("cannot move to stdout; use cp")
    src_options, dest_options = _options(no_sign_request, part_bytes)
    jobs = plan(sources, destination, recursive, src_options)
    ok = _run("mv", jobs, True, _reencode(compression), block_size, False, ctx_parallel(ctx, parallel),
              ctx_progress(ctx, progress), src_options, dest_options)
    if not ok:
        ctx.exit(1)
