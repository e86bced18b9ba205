"""``cloudfiles assets``: validate, stage, export and search assets (see docs/assets.md)."""
from __future__ import annotations

import json
from typing import Any, Optional

import click

from cloudfiles.exceptions import CloudFilesError


class _AssetsGroup(click.Group):
    """Reports errors as ``cloudfiles assets CMD: message`` and exits 1."""

    def invoke(self, ctx: click.Context) -> Any:
        args = list(getattr(ctx, "_protected_args", None) or ctx.args)
        sub = args[0] if args and args[0] in self.commands else "assets"
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except ImportError as err:
            click.echo(f"cloudfiles assets {sub}: {err} (pip install 'cloudfiles[assets]')", err=True)
        except (CloudFilesError, OSError, ValueError) as err:
            click.echo(f"cloudfiles assets {sub}: {' '.join(str(err).split())}", err=True)
        ctx.exit(1)


def _db(config: Optional[str]):
    from cloudfiles.assets import Database

    return Database(config)


def _out(data: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    elif isinstance(data, list):
        for row in data:
            click.echo("\t".join("" if v is None else str(v) for v in row.values()))
    else:
        click.echo(json.dumps(data, default=str))


_config = click.option("--config", "config", metavar="FILE", help="Config YAML (default: $CLOUDFILES_ASSETS_CONFIG).")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group(cls=_AssetsGroup)
def assets() -> None:
    """Validate files against specifications, stage and export them.

    \b
    cloudfiles assets update --config assets.yaml --json
    cloudfiles assets workflow --config assets.yaml
    cloudfiles assets search --config assets.yaml "SELECT * FROM assets"
    """


@assets.command("update")
@_config
@_json
@click.option("--group", type=click.Choice(["files", "assets"]), default="assets", show_default=True)
def update_cmd(config: Optional[str], as_json: bool, group: str) -> None:
    """Walk the ingress directory and print the table."""
    db = _db(config).update()
    _out(db.files if group == "files" else db.assets, as_json)


def _step(name: str, help_: str):
    @assets.command(name, help=help_)
    @_config
    @_json
    def cmd(config: Optional[str], as_json: bool) -> None:
        db = _db(config)
        if name == "create":
            db.update()
        _out(getattr(db, name)(), as_json)

    return cmd


_step("create", "Update, then stage valid assets and their metadata.")
_step("export", "Run the configured exporters on the staging directory, then the webhooks.")
_step("delete", "Delete the staging directory's content (and, with write_mode: move, staged ingress files).")
_step("workflow", "Run the config's workflow steps in order.")


@assets.command("search")
@_config
@_json
@click.argument("sql")
def search_cmd(config: Optional[str], as_json: bool, sql: str) -> None:
    """Run SQL over the `files` and `assets` tables."""
    _out(_db(config).search(sql), as_json)


@assets.command("serve")
@_config
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
def serve_cmd(config: Optional[str], host: str, port: int) -> None:
    """Serve the assets page and JSON API."""
    from werkzeug.serving import run_simple

    from cloudfiles.assets.server import create_app

    from cloudfiles.assets import load_config

    run_simple(host, port, create_app(load_config(config)), threaded=True)
