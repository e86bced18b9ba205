"""``cloudfiles``: list, copy, move, delete and inspect files anywhere cloudfiles reaches.

Every command is thin over the library. Failures end with exit status 1 and
one line per problem on stderr, naming the path and the cause (no tracebacks).
"""
from __future__ import annotations

import os
import sys

import click

from cloudfiles.exceptions import CloudFilesError, TransferError

from .common import CLIError, error, one_line, report_transfer_error, wrap_errors


class _Group(click.Group):
    """Turns every error a command lets escape into one stderr line and exit status 1."""

    def invoke(self, ctx: click.Context):
        args = list(getattr(ctx, "_protected_args", None) or ctx.protected_args or ctx.args)
        command = args[0] if args and args[0] in self.commands else (ctx.info_name or "cloudfiles")
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except CLIError as err:
            error(command, one_line(err))
        except TransferError as err:
            report_transfer_error(command, err)
        except BrokenPipeError:
            # The reader went away (e.g. `| head`): not an error worth a message.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the final flush at exit cannot fail again
            ctx.exit(1)
        except KeyboardInterrupt:
            error(command, "interrupted")
            ctx.exit(130)
        except (CloudFilesError, OSError, ValueError) as err:
            error(command, wrap_errors(err))
        ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["--help"]})
@click.option("-p", "--parallel", type=int, default=1, show_default=True,
              help="Processes for cp/mv (<= 0: one per core).")
@click.option("--progress", is_flag=True, help="Show progress bars.")
@click.version_option(package_name="cloudfiles")
@click.pass_context
def cli(ctx: click.Context, parallel: int, progress: bool) -> None:
    """Fast file operations on gs://, s3://, file://, mem:// and http(s)://.

    \b
    cloudfiles ls -r s3://bucket/dir
    cloudfiles cp -r ./data gs://bucket/data
    cloudfiles -p 4 cp -r s3://a/x/ s3://b/x/
    cloudfiles du -sh s3://bucket/dir
    cloudfiles verify ./data gs://bucket/data
    cloudfiles sync --dry-run --delete ./data s3://bucket/data

    Run `cloudfiles COMMAND --help` for each command's options and examples.
    """
    ctx.ensure_object(dict)
    ctx.obj["parallel"] = parallel
    ctx.obj["progress"] = progress


def _register() -> None:
    from .alias import alias
    from .cp import cp, mv
    from .files import cat, head, rm, touch
    from .listing import du, ls
    from .verify import verify
    from .xfer import xfer
    from .misc import acl, license, mkdir
    from .cleanup import cleanup
    from .sync import sync

    for command in (ls, cp, mv, rm, du, cat, head, touch, verify, sync, alias, xfer, mkdir, license, acl,
                    cleanup):
        cli.add_command(command)
    try:
        from .dataset import add_group_options, dataset
        from .registry import add_commands

        add_commands(dataset)
        add_group_options(dataset)
        cli.add_command(dataset)
    except ImportError:
        pass
    from .assets import assets; cli.add_command(assets)  # noqa: E702


_register()


def main() -> None:
    cli(prog_name="cloudfiles")


if __name__ == "__main__":
    main()
