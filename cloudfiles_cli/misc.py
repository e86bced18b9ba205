"""Small commands kept from cloud-files 6.4.3's CLI: ``mkdir`` and ``license``."""
from __future__ import annotations

import os

import click

from .common import fail, resolve

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
