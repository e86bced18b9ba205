"""``cloudfiles dataset``: share versioned datasets through a bucket.

Thin over :mod:`cloudfiles.datasets`. Errors end with exit status 1 and one
line on stderr naming the problem.
"""
from __future__ import annotations

import json
from typing import Any, Optional

import click

from cloudfiles.exceptions import CloudFilesError


def _one_line(text: object) -> str:
    from .common import cli_advice

    return cli_advice(" ".join(str(text).split()))


class _DatasetGroup(click.Group):
    """Reports library errors as ``cloudfiles dataset CMD: message`` and exits 1."""

    def invoke(self, ctx: click.Context) -> Any:
        args = list(getattr(ctx, "_protected_args", None) or ctx.args)
        sub = args[0] if args and args[0] in self.commands else "dataset"
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo(f"cloudfiles dataset {sub}: interrupted", err=True)
            ctx.exit(130)
        except (CloudFilesError, OSError, ValueError) as err:
            click.echo(f"cloudfiles dataset {sub}: {_one_line(err)}", err=True)
            ctx.exit(1)


def _store(ctx: click.Context):
    """The :class:`Datasets` the options name, and whether to show progress."""
    from cloudfiles.datasets import Datasets

    obj = ctx.find_root().obj or {}
    opts = ctx.obj or {}
    progress = bool(obj.get("progress") or opts.get("progress"))
    return Datasets(remote=opts.get("remote"), home=opts.get("home")), progress


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Store a group option given after the subcommand (it wins over one given before)."""
    if value is not None and value is not False:
        ctx.ensure_object(dict)
        ctx.obj[param.name] = value


_REMOTE_HELP = "Remote store (default: $CLOUDFILES_DATASET_REMOTE, config url, or ~/.cloudfiles/remote)."
_HOME_HELP = "Local store (default: $CLOUDFILES_DATASET_HOME, config home, or ~/.cloudfiles/datasets)."


def add_group_options(group: click.Group) -> None:
    """Let every subcommand take ``--home``, ``--remote`` and ``--progress`` after its name too
    (``dataset ls`` keeps its own ``-r/--remote`` flag, so there ``--remote URL`` goes first)."""
    for cmd in group.commands.values():
        names = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
        extra = [
            click.Option(["--home"], metavar="DIR", help=_HOME_HELP, expose_value=False, callback=_remember),
            click.Option(["--remote"], metavar="CLOUDPATH", help=_REMOTE_HELP, expose_value=False,
                         callback=_remember),
            click.Option(["--progress"], is_flag=True, default=False, help="Show progress bars.",
                         expose_value=False, callback=_remember),
        ]
        cmd.params.extend(o for o in extra if o.opts[0] not in names)


@click.group(cls=_DatasetGroup)
@click.option("--remote", metavar="CLOUDPATH", help=_REMOTE_HELP)
@click.option("--home", metavar="DIR", help=_HOME_HELP)
@click.option("--progress", is_flag=True, help="Show progress bars.")
@click.pass_context
def dataset(ctx: click.Context, remote: Optional[str], home: Optional[str], progress: bool) -> None:
    """Versioned datasets shared through a bucket.

    \b
    cloudfiles dataset register ./flowers flowers
    cloudfiles dataset push flowers --tag v1
    cloudfiles dataset pull flowers@v1 --partition train
    cloudfiles dataset info flowers
    cloudfiles dataset pull flowers --home /scratch/ds --progress   (group options go before or after)
    """
    root = ctx.find_root()
    root.ensure_object(dict)
    ctx.obj = {"remote": remote, "home": home, "progress": progress}


@dataset.command("ls")
@click.option("-r", "--remote", "remote_", is_flag=True, help="List the datasets on the remote.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ls_cmd(ctx: click.Context, remote_: bool, as_json: bool) -> None:
    """List local (or, with -r, remote) datasets.

    \b
    cloudfiles dataset ls
    cloudfiles dataset ls -r --json
    cloudfiles dataset --remote s3://b/datasets ls -r
    """
    store, _ = _store(ctx)
    rows = store.ls(remote=remote_)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        if remote_:
            tags = ",".join(t for t in r["tags"] if t != "latest")
            click.echo(f"{r['name']}\t{r['latest']}\t{r['versions']} versions" + (f"\ttags: {tags}" if tags else ""))
        else:
            version = r["version"] or "(not pushed)"
            parts = ",".join(r["partitions"]) + ("" if r["complete"] else " (partial)")
            click.echo(f"{r['name']}\t{version}\t{parts}")


@dataset.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Replace a local dataset of the same name.")
@click.pass_context
def register(ctx: click.Context, directory: str, name: str, force: bool) -> None:
    """Validate DIRECTORY and register it as local dataset NAME.

    \b
    cloudfiles dataset register ./flowers flowers
    cloudfiles dataset register ./flowers flowers --force --home /scratch/ds
    """
    store, _ = _store(ctx)
    ds = store.register(directory, name, force=force)
    click.echo(f"registered {name} ({', '.join(ds)}) at {ds.root}")


@dataset.command()
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Push even if this version or content already exists.")
@click.option("-t", "--tag", help="Also point this tag at the new version.")
@click.option("-c", "--compress", help="Stored encoding: gzip, br, zstd, xz, bzip2.")
@click.pass_context
def push(ctx: click.Context, name: str, force: bool, tag: Optional[str], compress: Optional[str]) -> None:
    """Upload local dataset NAME as a new version.

    \b
    cloudfiles dataset push flowers --tag v1
    cloudfiles dataset push flowers -c zstd --remote s3://b/datasets --progress
    """
    store, progress = _store(ctx)
    res = store.push(name, force=force, tag=tag, compress=compress, progress=progress)
    click.echo(f"pushed {name}@{res['version']}: {res['uploaded']} uploaded, {res['deduplicated']} unchanged, "
               f"{res['resumed']} already there ({res['bytes_uploaded']} bytes sent)")


@dataset.command()
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option("-f", "--force", is_flag=True, help="Download everything again; replace an unpushed local dataset.")
@click.option("-p", "--partition", "partitions", multiple=True, help="Only this partition (repeatable).")
@click.pass_context
def pull(ctx: click.Context, ref: str, force: bool, partitions: tuple) -> None:
    """Download, verify and install NAME (latest) or NAME@VERSION/TAG.

    \b
    cloudfiles dataset pull flowers
    cloudfiles dataset pull flowers@v1 -p train --progress
    """
    store, progress = _store(ctx)
    ds = store.pull(ref, force=force, partitions=list(partitions) or None, progress=progress)
    click.echo(f"installed {ds.name}@{ds.version} ({', '.join(ds)}) at {ds.root}")


@dataset.command()
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option("--local-only", is_flag=True, help="Check only the installed copy.")
@click.option("--remote-only", is_flag=True, help="Check only the remote version.")
@click.pass_context
def verify(ctx: click.Context, ref: str, local_only: bool, remote_only: bool) -> None:
    """Check every file of NAME against its manifest (size and sha256).

    \b
    cloudfiles dataset verify flowers
    cloudfiles dataset verify flowers@v1 --remote-only
    """
    if local_only and remote_only:
        raise click.UsageError("--local-only and --remote-only exclude each other")
    store, _ = _store(ctx)
    report = store.verify(ref, local=not remote_only, remote=not local_only, raise_on_error=False)
    for where in ("local", "remote"):
        part = report[where]
        if part is not None:
            click.echo(f"{where}: {part['version'] or '(not pushed)'}: {part['files']} files, "
                       f"{len(part['problems'])} problems")
    if not report["ok"]:
        for p in report["problems"][:20]:
            click.echo(f"cloudfiles dataset verify: {_one_line(p)}", err=True)
        if len(report["problems"]) > 20:
            click.echo(f"cloudfiles dataset verify: ... and {len(report['problems']) - 20} more", err=True)
        ctx.exit(1)


@dataset.command()
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option("--no-pull", is_flag=True, help="Fail instead of pulling a dataset that is not installed.")
@click.pass_context
def info(ctx: click.Context, ref: str, no_pull: bool) -> None:
    """Print JSON with the local path of each partition (pulling first if needed).

    \b
    cloudfiles dataset info flowers
    cloudfiles dataset info flowers@v1 --no-pull
    """
    store, _ = _store(ctx)
    from cloudfiles.datasets.provision import _repos, info as registry_info
    from cloudfiles.datasets.registry import definitions

    if "@" not in ref and ref in definitions(_repos(store)):
        click.echo(json.dumps(registry_info(ref, store=store), indent=2))
        return
    click.echo(json.dumps(store.info(ref, auto_install=not no_pull), indent=2))


@dataset.command()
@click.argument("name")
@click.argument("version")
@click.argument("tag")
@click.option("-f", "--force", is_flag=True, help="Move the tag if it points elsewhere.")
@click.option("--expect", metavar="VERSION", help="Move only if the tag points at VERSION now ('none': absent).")
@click.pass_context
def tag(ctx: click.Context, name: str, version: str, tag: str, force: bool, expect: Optional[str]) -> None:
    """Point TAG of dataset NAME at VERSION.

    \b
    cloudfiles dataset tag flowers 20240101T000000Z-1a2b stable
    cloudfiles dataset tag flowers 20240101T000000Z-1a2b stable --expect none
    """
    store, _ = _store(ctx)
    exp: Optional[str] = "any" if expect is None else (None if expect == "none" else expect)
    res = store.tag(name, version, tag, force=force, expect=exp)
    if res["moved"]:
        click.echo(f"{name}@{tag} -> {res['version']}" + (f" (was {res['previous']})" if res["previous"] else ""))
    else:
        click.echo(f"{name}@{tag} already points at {res['version']}")


@dataset.command()
@click.argument("name")
@click.pass_context
def versions(ctx: click.Context, name: str) -> None:
    """List the pushed versions of NAME, oldest first, with their tags.

    \b
    cloudfiles dataset versions flowers
    """
    store, _ = _store(ctx)
    tags = store.tags(name)
    by_version: dict = {}
    for t, v in tags.items():
        by_version.setdefault(v, []).append(t)
    for v in store.versions(name):
        names = ",".join(by_version.get(v["version"], []))
        click.echo(f"{v['version']}\t{v['created']}" + (f"\t{names}" if names else ""))

from . import dataset_history  # noqa: E402,F401  (log, branch: registered on the group above)
