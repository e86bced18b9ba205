"""``cloudfiles dataset repositories|search|prepare|orphans``: the dataset registry."""
from __future__ import annotations

import json

import click

from .dataset import _store


@click.command("repositories")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def repositories_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the repositories of dataset definitions (paths, cloudpaths, plugins).

    \b
    cloudfiles dataset repositories
    cloudfiles dataset repositories --json
    """
    from cloudfiles.datasets.provision import _repos

    store, _ = _store(ctx)
    rows = []
    for r in _repos(store):
        d = r.as_dict()
        d["datasets"] = len(r.definitions())
        rows.append(d)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for d in rows:
        click.echo(f"{d['name']}\t{d['kind']}\t{d['datasets']} datasets")


@click.command("search")
@click.argument("terms", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def search_cmd(ctx: click.Context, terms: tuple, as_json: bool) -> None:
    """Find datasets whose id, name, description or tags match every TERM, best first.

    \b
    cloudfiles dataset search flowers
    cloudfiles dataset search images classification --json
    """
    from cloudfiles.datasets.provision import search

    store, _ = _store(ctx)
    hits = search(list(terms), store=store)
    if as_json:
        click.echo(json.dumps(hits, indent=2))
        return
    for h in hits:
        click.echo(f"{h['id']}\t{h['name'] or '-'}\t{h['source']}")


@click.command("prepare")
@click.argument("did", metavar="ID")
@click.option("--trust", is_flag=True, help="Accept resources without declared checksums (records their sha256).")
@click.option("--push", "push_", is_flag=True, help="Also publish the prepared dataset to the remote.")
@click.option("-f", "--force", is_flag=True, help="Prepare again even if already installed.")
@click.pass_context
def prepare_cmd(ctx: click.Context, did: str, trust: bool, push_: bool, force: bool) -> None:
    """Download, verify, unpack and install dataset ID from its definition; print its info JSON.

    \b
    cloudfiles dataset prepare org.example.flowers
    cloudfiles dataset prepare org.example.flowers --push
    """
    from cloudfiles.datasets.provision import info, prepare

    store, progress = _store(ctx)
    prepare(did, trust=trust, push=push_, force=force, store=store, progress=progress)
    click.echo(json.dumps(info(did, store=store), indent=2))


@click.command("orphans")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def orphans_cmd(ctx: click.Context, as_json: bool) -> None:
    """List local datasets that no repository defines and the remote does not have.

    \b
    cloudfiles dataset orphans
    cloudfiles dataset orphans --json --home /scratch/ds
    """
    from cloudfiles.datasets.provision import orphans

    store, _ = _store(ctx)
    rows = orphans(store=store)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['name']}\t{r['root']}")


def add_commands(group: click.Group) -> None:
    """Register the registry subcommands into the ``dataset`` group."""
    for c in (repositories_cmd, search_cmd, prepare_cmd, orphans_cmd):
        group.add_command(c)
