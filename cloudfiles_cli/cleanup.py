"""``cloudfiles cleanup``: find (and with -f remove) what killed writers left behind."""
from __future__ import annotations

import click

from cloudfiles import CloudFiles
from cloudfiles.cleanup import cleanup as run_cleanup
from cloudfiles.cleanup import human_age, parse_age
from cloudfiles.redact import redact

from .common import fail


@click.command("cleanup")
@click.argument("cloudpath")
@click.option("--older-than", "older_than", default="1d", show_default=True,
              help="Only leftovers at least this old: seconds or a number with s, m, h, d or w.")
@click.option("-f", "--force", is_flag=True, help="Remove them (default: only list what would be removed).")
def cleanup(cloudpath: str, older_than: str, force: bool) -> None:
    """List, or with -f remove, stale temporaries under CLOUDPATH: `.cftmp-*` files on
    file://, incomplete multipart uploads on s3://, composite upload parts on gs://.

    \b
    cloudfiles cleanup ./data                  # dry run: what would go
    cloudfiles cleanup -f --older-than 2h s3://bucket/dir
    """
    try:
        parse_age(older_than)
    except ValueError as err:
        fail(f"--older-than: {err}")
    found = run_cleanup(CloudFiles(cloudpath).core, older_than, dry_run=not force)
    verb = "removed" if force else "would remove"
    for item in found:
        size = f", {item.size} bytes" if item.size is not None else ""
        click.echo(redact(f"{verb} {item.kind} {item.where} (age {human_age(item.age)}{size})"))
    summary = f"{len(found)} leftovers older than {older_than}" + ("" if force else "; run with -f to remove them")
    click.echo(summary if found else f"no leftovers older than {older_than}", err=True)
