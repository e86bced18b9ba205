"""Small commands kept from cloud-files 6.4.3's CLI: ``mkdir``, ``license`` and ``acl get``."""
from __future__ import annotations

import json
import os

import click

from .common import error, fail, no_sign_option, read_options, resolve

LICENSE_TEXT = """cloudfiles is distributed under the BSD 3-Clause License.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.
3. Neither the name of the copyright holder nor the names of its contributors
   may be used to endorse or promote products derived from this software
   without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE."""


@click.command(help="""Print the license of this library and command.

    \b
    cloudfiles license
""")
def license() -> None:  # noqa: A001 - the reference's command name
    click.echo(LICENSE_TEXT)


@click.command(help="""Create local directories (with their parents). Cloud paths need none: a no-op.

    \b
    cloudfiles mkdir ./out ./logs/today
    cloudfiles mkdir s3://b/dir          (nothing to do: prefixes exist when files do)
""")
@click.argument("paths", nargs=-1, required=True)
def mkdir(paths) -> None:
    for path in paths:
        loc = resolve(path)
        if loc.protocol != "file":
            continue
        target = (loc.local_path or "").rstrip("/") or "/"
        if os.path.exists(target) and not os.path.isdir(target):
            fail(f"{path}: exists and is not a directory")
        os.makedirs(target, exist_ok=True)


@click.group("acl", help="""Read access control lists (where the service has them and you may read them).

    \b
    cloudfiles acl get s3://b/x.txt          {"Grants": [...], "Owner": {...}}
    cloudfiles acl get ./local.txt           0o100644 (the file's mode)
    cloudfiles acl get gs://b/a gs://b/b     gs://b/ then {"a": [...], "b": [...]}
""")
def acl() -> None:
    pass


@acl.command("get", help="""Print the ACL of each file: s3:// the GetObjectAcl grants and owner, gs:// the
    object's entries ([{"entity", "role"}]), local files their mode in octal, mem:// null.

    \b
    One path: its ACL alone (JSON; the octal mode for a local file).
    Several: for each bucket or directory, its cloudpath on one line, then {name: ACL} as JSON.
    A missing file is an error (exit status 1), the others are still printed.

    \b
    cloudfiles acl get s3://b/x.txt
    cloudfiles acl get s3://b/a s3://b/b gs://c/d
""")
@click.argument("sources", nargs=-1, required=True)
@no_sign_option
@click.option("--progress", is_flag=True, help="Show a progress bar.")
@click.pass_context
def acl_get(ctx, sources, no_sign_request, progress) -> None:
    from cloudfiles import CloudFiles

    options = read_options(no_sign_request=no_sign_request)
    groups: dict[str, list[str]] = {}
    for source in sources:
        loc = resolve(source)
        if not loc.key or loc.key.endswith("/"):
            fail(f"{source}: names a directory; acl get reads files")
        groups.setdefault(loc.base, []).append(loc.key)
    missing = []
    for base, keys in groups.items():
        cf = CloudFiles(base, progress=progress, **options)
        acls = cf.get_acl(keys)
        found = {k: v for k, v in acls.items() if v is not None or cf.protocol == "mem"}
        for k in keys:
            if k not in found or (cf.protocol == "mem" and not cf.exists(k)):
                missing.append(base + k)
                found.pop(k, None)
        if len(sources) == 1:
            for value in found.values():
                click.echo(_acl_text(value, cf.protocol))
        elif found:
            click.echo(base)
            click.echo(json.dumps({k: _acl_value(v, cf.protocol) for k, v in found.items()}, sort_keys=True))
    for path in missing:
        error("acl", f"{path}: no such file")
    if missing:
        ctx.exit(1)


def _acl_value(value, protocol: str):
    return oct(value) if protocol == "file" and isinstance(value, int) else value


def _acl_text(value, protocol: str) -> str:
    if protocol == "file" and isinstance(value, int):
        return oct(value)
    return json.dumps(value, sort_keys=True)
