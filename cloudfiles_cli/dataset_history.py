"""``cloudfiles dataset log`` and ``dataset branch``: version history and branches (tags)."""
from __future__ import annotations

import json

import click

from .dataset import _store, dataset


@dataset.command("log")
@click.argument("ref")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Show at most this many versions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def log_cmd(ctx: click.Context, ref: str, limit: int, as_json: bool) -> None:
    """Versions of NAME[@REF], newest first, following each version's parent.

    \b
    cloudfiles dataset log flowers@main
    cloudfiles dataset log flowers -n 5 --json
    """
    store, _ = _store(ctx)
    rows = store.log(ref, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['version']}  {r['created']}  parent {r['parent'] or '-'}  {r['message'] or ''}".rstrip())


@dataset.command("branch")
@click.argument("name")
@click.argument("from_ref", metavar="FROM")
@click.argument("new")
@click.pass_context
def branch_cmd(ctx: click.Context, name: str, from_ref: str, new: str) -> None:
    """Create tag NEW of NAME at the version FROM names (a version, tag or 'latest'),
    to commit to with cfds:// transactions. NEW must not exist yet.

    \b
    cloudfiles dataset branch flowers v1 experiment
    """
    store, _ = _store(ctx)
    version = store.resolve(name, None if from_ref == "latest" else from_ref)["version"]
    res = store.tag(name, version, new, expect=None)
    click.echo(f"{name}@{new} -> {res['version']}")
