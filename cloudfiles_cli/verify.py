"""``verify``: do two files or two directories hold the same content?"""
from __future__ import annotations

from typing import Optional

import click

from cloudfiles import CloudFiles, compression, integrity
from cloudfiles.transfer import Fingerprint, fingerprint, listed_fingerprint, same_stored

from .common import error, fail, is_dir, resolve, strip_local_suffix, wrap_errors


def _stored(cf: CloudFiles, key: str, fp: Fingerprint) -> bytes:
    if fp.data is not None:
        return fp.data
    data = cf.get(key, raw=True)
    if data is None:
        raise FileNotFoundError(f"{cf.abspath(key)} disappeared during verify")
    return data


def compare(scf: CloudFiles, skey: str, tcf: CloudFiles, tkey: str, smeta=None, tmeta=None) -> Optional[str]:
    """``None`` when both hold the same content, else why not ('missing', 'differs: ...').

    ``smeta``/``tmeta``: the files' listing entries (:class:`cloudfiles.meta.ObjectMeta`);
    where they carry a checksum, a match needs no request for that side. A listing may
    not tell the Content-Encoding (S3's does not), so a difference found from a listing
    is confirmed with the objects' own metadata before it is reported."""
    a_listed, b_listed = listed_fingerprint(scf.core, smeta), listed_fingerprint(tcf.core, tmeta)
    a = a_listed or fingerprint(scf.core, skey)
    if a is None:
        return "missing in source"
    b = b_listed or fingerprint(tcf.core, tkey)
    if b is None:
        return "missing in target"
    why = _compare_prints(scf, skey, a, tcf, tkey, b) if a.encoding == b.encoding else "encodings"
    if why is None or not (a_listed or b_listed):
        return None if why is None else (why if why != "encodings" else _compare_decoded(scf, skey, a, tcf, tkey, b))
    if a_listed is not None:
        a = fingerprint(scf.core, skey)
        if a is None:
            return "missing in source"
    if b_listed is not None:
        b = fingerprint(tcf.core, tkey)
        if b is None:
            return "missing in target"
    if a.encoding == b.encoding:
        return _compare_prints(scf, skey, a, tcf, tkey, b)
    return _compare_decoded(scf, skey, a, tcf, tkey, b)


def _compare_prints(scf, skey, a: Fingerprint, tcf, tkey, b: Fingerprint) -> Optional[str]:
    """Same encoding: the stored bytes decide (checksums, else the md5 of the bytes)."""
    same = same_stored(a, b)
    if same is None:  # no comparable checksum: hash the stored bytes
        same = integrity.md5_hex(_stored(scf, skey, a)) == integrity.md5_hex(_stored(tcf, tkey, b))
    if not same:
        return f"differs ({a.size} vs {b.size} stored bytes)" if a.size != b.size else "differs (checksum)"
    return None


def _compare_decoded(scf, skey, a: Fingerprint, tcf, tkey, b: Fingerprint) -> Optional[str]:
    """Different encodings: compare the decoded content."""
    da = compression.decompress(_stored(scf, skey, a), a.encoding, skey)
    db = compression.decompress(_stored(tcf, tkey, b), b.encoding, tkey)
    if integrity.md5_hex(da) != integrity.md5_hex(db):
        return f"differs (decoded content; encodings {a.encoding or 'none'} vs {b.encoding or 'none'})"
    return None


@click.command(help="""Check that TARGET holds the same content as SOURCE (two files or two directories).

    \b
    cloudfiles verify ./data s3://b/data
    cloudfiles verify s3://b/a.bin gs://b/a.bin

    Names are compared from one listing of each side; content by md5 / crc32c /
    ETag where both sides expose comparable ones (taken from the listings: no
    request per file where they carry them), otherwise by hashing the bytes
    (local files are always hashed). Files stored with different encodings are
    compared decoded. Prints each differing, missing or extra file and exits 1
    if there is any.
""")
@click.argument("source")
@click.argument("target")
@click.option("-m", "--only-matching", is_flag=True, help="Only compare files present on both sides.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems, no summary.")
@click.option("-v", "--verbose", is_flag=True,
              help="For each differing file also print both sides' stored size, encoding and checksums.")
@click.option("--md5", is_flag=True,
              help="Accepted for cloud-files scripts: files without a comparable checksum are always "
                   "compared by the md5 of their bytes here.")
@click.pass_context
def verify(ctx, source, target, only_matching, quiet, verbose, md5):
    sloc, tloc = resolve(source), resolve(target)
    sdir, tdir = is_dir(sloc), is_dir(tloc)
    if sdir != tdir:
        fail(f"{source} and {target} must both be files or both be directories")
    if sdir:
        scf, tcf = CloudFiles(sloc.as_dir()), CloudFiles(tloc.as_dir())
        smetas = {m.key: m for m in scf.list_meta() if not m.key.endswith("/")}
        tmetas = {m.key: m for m in tcf.list_meta() if not m.key.endswith("/")}
        snames, tnames = set(smetas), set(tmetas)
        pairs = [(n, n, n) for n in sorted(snames & tnames)]
        missing = sorted(snames - tnames)
        extra = sorted(tnames - snames)
    else:
        scf, tcf = CloudFiles(sloc.base), CloudFiles(tloc.base)
        skey, _ = strip_local_suffix(sloc)
        tkey, _ = strip_local_suffix(tloc)
        pairs = [(sloc.raw, skey, tkey)]
        missing, extra = [], []
        smetas, tmetas = {}, {}

    def run(item):
        name, sk, tk = item
        try:
            return name, compare(scf, sk, tcf, tk, smetas.get(sk), tmetas.get(tk))
        except Exception as err:  # reported per file
            return name, f"error: {wrap_errors(err)}"

    pairs_by_name = {name: (sk, tk) for name, sk, tk in pairs}
    threads = max(scf.num_threads, tcf.num_threads, 4)
    differing = []
    with scf.runner.local().executor(min(threads, max(1, len(pairs)))) as pool:
        for name, why in pool.map(run, pairs):
            if why is not None:
                differing.append(name)
                click.echo(f"{why}\t{name}")
                if verbose:
                    _details(scf, tcf, name, pairs_by_name[name])
    if not only_matching:
        for name in missing:
            click.echo(f"missing in target\t{name}")
        for name in extra:
            click.echo(f"only in target\t{name}")
    problems = len(differing) + (0 if only_matching else len(missing) + len(extra))
    if not quiet:
        click.echo(f"{len(pairs) - len(differing)} matching, {len(differing)} differing, "
                   f"{len(missing)} missing in target, {len(extra)} only in target")
    if problems:
        error("verify", f"{source} and {target} differ: {problems} problem file(s)")
        ctx.exit(1)


def _describe(fp: Optional[Fingerprint]) -> str:
    if fp is None:
        return "missing"
    sums = fp.sums
    md5 = fp.md5 or "-"
    return (f"{fp.size} bytes, encoding {fp.encoding or 'none'}, md5 {md5}, etag {sums.etag or '-'}, "
            f"crc32c {sums.crc32c or '-'}")


def _details(scf: CloudFiles, tcf: CloudFiles, name: str, keys: tuple) -> None:
    """``-v``: what each side stores for a differing file (one metadata request a side)."""
    sk, tk = keys
    try:
        click.echo(f"  source: {_describe(fingerprint(scf.core, sk))}")
        click.echo(f"  target: {_describe(fingerprint(tcf.core, tk))}")
    except Exception as err:  # the difference itself was already reported
        click.echo(f"  (details unavailable: {wrap_errors(err)})")
