"""``cloudfiles``: list, copy and inspect files anywhere cloudfiles reaches."""
from __future__ import annotations

import sys

import click

from cloudfiles import CloudFiles, exceptions, paths


def _fail(message: str) -> None:
    click.echo(f"cloudfiles: {message}", err=True)
    sys.exit(1)


@click.group()
@click.version_option(package_name="cloudfiles")
def cli() -> None:
    """Fast file operations on gs://, s3://, file://, mem:// and http(s)://."""


@cli.command()
@click.argument("cloudpath")
@click.option("-r", "--recursive", is_flag=True, help="List every file below, not one level.")
def ls(cloudpath: str, recursive: bool) -> None:
    """List files under CLOUDPATH."""
    try:
        cf = CloudFiles(cloudpath)
        for key in cf.list(flat=not recursive):
            click.echo(cf.abspath(key))
    except exceptions.CloudFilesError as err:
        _fail(f"{cloudpath}: {err}")


@cli.command()
@click.argument("cloudpath")
def cat(cloudpath: str) -> None:
    """Write the bytes of a file to stdout."""
    try:
        parent, _, name = paths.normalize(cloudpath).rpartition("/")
        data = CloudFiles(parent + "/").get(name)
    except exceptions.CloudFilesError as err:
        _fail(f"{cloudpath}: {err}")
        return
    if data is None:
        _fail(f"{cloudpath}: no such file")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def main() -> None:
    cli(prog_name="cloudfiles")


if __name__ == "__main__":
    main()
