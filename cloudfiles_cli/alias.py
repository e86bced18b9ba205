"""``alias``: named endpoints (``name://bucket/path`` -> ``s3://https://host/bucket/path``)."""
from __future__ import annotations

import click

from cloudfiles import paths

from .common import fail


@click.group(help="""Named endpoints for S3-compatible services (and others).

    \b
    cloudfiles alias add lab s3://https://s3.lab.example.org/
    cloudfiles ls lab://bucket/dir/
    cloudfiles alias ls
    cloudfiles alias rm lab

    Aliases are saved in ~/.cloudfiles/aliases.json.
""")
def alias() -> None:
    pass


@alias.command("ls", help="""List every alias (official ones are marked).

    \b
    cloudfiles alias ls
""")
def alias_ls() -> None:
    for name, target in sorted(paths.aliases().items()):
        mark = " (official)" if name in paths.OFFICIAL_ALIASES else ""
        click.echo(f"{name}://\t{target}{mark}")


@alias.command("add", help="""Add alias NAME for TARGET (saved in ~/.cloudfiles/aliases.json).

    \b
    cloudfiles alias add lab s3://https://s3.lab.example.org/
    cloudfiles alias add minio s3://http://127.0.0.1:9000/ --force
    cloudfiles ls lab://bucket/dir/
""")
@click.argument("name")
@click.argument("target")
@click.option("-f", "--force", is_flag=True, help="Replace an existing alias of the same name.")
def alias_add(name: str, target: str, force: bool) -> None:
    name = name.rstrip(":/")
    if name in paths.OFFICIAL_ALIASES:
        fail(f"{name}: is an official alias and cannot be replaced")
    if name in paths.aliases() and not force:
        fail(f"{name}: alias exists ({paths.aliases()[name]}); use --force to replace it")
    paths.add_alias(name, target, persist=True)


@alias.command("rm", help="""Remove alias NAME (official aliases cannot be removed).

    \b
    cloudfiles alias rm lab
""")
@click.argument("name")
def alias_rm(name: str) -> None:
    name = name.rstrip(":/")
    if name in paths.OFFICIAL_ALIASES:
        fail(f"{name}: is an official alias and cannot be removed")
    if name not in paths.aliases():
        fail(f"{name}: no such alias")
    paths.remove_alias(name, persist=True)
