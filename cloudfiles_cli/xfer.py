"""``xfer``: resumable transfers that many clients share through one sqlite file
or a ledger in a bucket (``--db`` a cloudpath)."""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager

import click

from cloudfiles.bucket_ledger import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, BucketTransfer, is_cloudpath
from cloudfiles.paths import normalize
from cloudfiles.resumable_tools import ResumableTransfer

from .common import fail, read_stdin_paths
from .cp import COMPRESSIONS, _reencode


@contextmanager
def _db_errors(db: str):
    """sqlite failures (not a database, locked, disk full) as one CLI error line."""
    try:
        yield
    except sqlite3.Error as err:
        fail(f"{db}: {err}")


@contextmanager
def _sqlite_job(db: str, lease_msec: int = 0):
    """The sqlite job at ``db``; one CLI error if it is missing or broken."""
    if not os.path.isfile(db):
        fail(f"{db}: no such transfer database")
    with _db_errors(db):
        yield ResumableTransfer(db, lease_msec)


@click.group(help="""Resumable transfers shared by any number of clients.

    \b
    cloudfiles xfer init ./data s3://b/data --db job.db
    cloudfiles xfer execute job.db --lease-msec 60000 --progress   # on every machine
    cloudfiles xfer status job.db
    cloudfiles xfer release job.db    # every client stopped: free their leases now

    \b
    cloudfiles xfer init ./data s3://b/data --db s3://b/jobs/myjob   # a ledger in the bucket
    cloudfiles xfer execute s3://b/jobs/myjob --lease-msec 60000     # on machines sharing no disk

    Clients lease batches of files from the database (sqlite; on a shared
    disk for several machines) or chunks from a ledger kept in a bucket with
    conditional writes (--db a cloudpath). A killed client's lease expires
    after --lease-msec and another client copies its batch.
""")
def xfer() -> None:
    pass


@xfer.command("init", help="""Record every file under SOURCE (or listed in --txt) to copy to DESTINATION.

    \b
    cloudfiles xfer init ./data s3://b/data --db job.db
    cloudfiles xfer init s3://a/x gs://b/x --db job.db --txt names.txt -c gzip
    cloudfiles ls --shortpath s3://a/x/ | cloudfiles xfer init s3://a/x gs://b/x --db job.db --txt -
""")
@click.argument("source")
@click.argument("destination")
@click.option("-c", "--compression", type=click.Choice(COMPRESSIONS, case_sensitive=False), default="same",
              show_default=True, help="Encoding to store at the destination.")
@click.option("--db", required=True,
              help="The sqlite database that tracks the job (one per job), or a cloudpath for a ledger "
                   "in a bucket (its last component names the job).")
@click.option("--chunk-size", type=click.IntRange(1, MAX_CHUNK_SIZE), default=DEFAULT_CHUNK_SIZE,
              show_default=True, help="Files per leased chunk (a ledger in a bucket only).")
@click.option("--txt", "text_file", default=None,
              help="Names (relative to SOURCE) to copy, one per line ('-': stdin), instead of listing SOURCE.")
def xfer_init(source, destination, compression, db, chunk_size, text_file):
    src, dest = normalize(source), normalize(destination)
    names = None
    if text_file == "-":
        names = read_stdin_paths()
    elif text_file is not None:
        if not os.path.isfile(text_file):
            fail(f"{text_file}: no such file")
        with open(text_file, encoding="utf-8", errors="surrogateescape") as f:
            names = [line.rstrip("\r\n") for line in f if line.strip()]
    reencode = _reencode(compression)
    if is_cloudpath(db):
        BucketTransfer(db).init(src, dest, paths=names, reencode=reencode, chunk_size=chunk_size)
        return
    with _db_errors(db):
        ResumableTransfer(db).init(src, dest, paths=names, reencode=reencode)


@xfer.command("execute", help="""Copy the job's files, leasing batches so several clients can share it.

    \b
    cloudfiles xfer execute job.db
    cloudfiles xfer execute job.db --lease-msec 60000 -b 100 --progress
    cloudfiles xfer execute job.db --cluster tcp://scheduler:8786 --lease-msec 120000

    With --lease-msec 0 (the default) leases end at once: use it for one client.
    A ledger in a bucket (DB a cloudpath) leases whole chunks, renews them while
    it copies, and takes 0 to mean 60000; it prints what this client did.
""")
@click.argument("db")
@click.option("--progress", is_flag=True, help="Show a progress bar.")
@click.option("--lease-msec", type=click.IntRange(min=0), default=0, show_default=True,
              help="How long a client holds each batch (longer than a batch takes to copy).")
@click.option("-b", "--block-size", type=click.IntRange(min=1), default=200, show_default=True,
              help="Files per leased batch (sqlite; a ledger in a bucket leases the chunks made by init).")
@click.option("--cluster", default=None, metavar="SPEC",
              help="Copy the leased batches on a Dask cluster: tcp://HOST:PORT or local:N (leases then "
                   "last at least 60 s, since batches wait on the cluster; docs/scale.md).")
def xfer_execute(db, progress, lease_msec, block_size, cluster):
    if is_cloudpath(db):
        rt = BucketTransfer(db, lease_msec)
        rt.rfs.metadata()  # no job there: one error before a cluster starts
        if cluster is None:
            run = rt.execute(progress=progress, block_size=block_size)
        else:
            from cloudfiles.distributed import cluster_client, parse_spec

            parse_spec(cluster)
            with cluster_client(cluster) as client:
                run = rt.execute(progress=progress, block_size=block_size, executor=client)
        click.echo(run.summary())
        return
    with _sqlite_job(db, lease_msec) as rt:
        if cluster is None:
            rt.execute(progress=progress, block_size=block_size)
            return
        from cloudfiles.distributed import cluster_client, parse_spec

        parse_spec(cluster)
        with cluster_client(cluster) as client:
            rt.execute(progress=progress, block_size=block_size, executor=client)


@xfer.command("status", help="""How many files are finished, leased and waiting.

    \b
    cloudfiles xfer status job.db
""")
@click.argument("db")
def xfer_status(db):
    if is_cloudpath(db):
        rfs = BucketTransfer(db).rfs
        meta, st = rfs.metadata(), rfs.status()
        click.echo(f"{meta['source']} -> {meta['dest']}")
        click.echo(f"total {st['total']} finished {st['finished']} leased {st['leased']} available {st['available']}")
        click.echo(f"chunks {st['chunks']} done {st['chunks_done']} leased {st['chunks_leased']}")
        if st["clock"] == "local":
            click.echo("(leases judged by this machine's clock: the service's clock could not be read)")
        return
    with _sqlite_job(db) as rt:
        rfs = rt.rfs
        meta = rfs.metadata()
        click.echo(f"{meta['source']} -> {meta['dest']}")
        click.echo(f"total {rfs.total()} finished {rfs.total() - rfs.remaining()} "
                   f"leased {rfs.num_leased()} available {rfs.available()}")


@xfer.command("release", help="""Drop every lease, so the next client takes any unfinished batch at once.

    \b
    cloudfiles xfer release job.db
    cloudfiles xfer release s3://b/jobs/myjob

    For after every client was stopped (killed clients' leases otherwise run
    until --lease-msec ends). Finished files stay finished. A client still
    running loses its leases: its batches may then be copied twice (copies are
    idempotent, so the cost is bandwidth).
""")
@click.argument("db")
def xfer_release(db):
    if is_cloudpath(db):
        n = BucketTransfer(db).rfs.release()
        click.echo(f"released {n} chunk lease{'s' if n != 1 else ''}")
        return
    with _sqlite_job(db) as rt:
        rfs = rt.rfs
        n = rfs.num_leased()
        rfs.release()
        click.echo(f"released {n} file lease{'s' if n != 1 else ''}")
