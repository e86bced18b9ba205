"""The job ledger kept in a bucket: any number of clients, on machines that share
nothing but the storage service, lease chunks of a transfer's file list using
only conditional writes (see docs/scale.md, "The job ledger in a bucket").

Layout under the ledger's cloudpath ``R`` (e.g. ``s3://bucket/jobs/myjob``)::

    R/meta.json          source, destination, encoding, chunk size, counts (written last)
    R/chunks/000123.json the names of chunk 123 (immutable)
    R/leases/000123      who holds chunk 123 and for how long (created with If-None-Match: *,
                         renewed and taken over with If-Match: <token>)
    R/done/000123        chunk 123 is copied (idempotent)
    R/clients/<id>       a clock probe: its Last-Modified is the service's "now"

A lease expires when the service's clock, read as the Last-Modified of a probe
this client just wrote, is ``lease_msec`` + :data:`SKEW_MARGIN_MSEC` past the
lease object's own Last-Modified: no client's clock is compared with another's.
Everything read back from the bucket is validated (sizes, JSON shapes, keys);
garbage raises one :class:`~cloudfiles.exceptions.InvalidInputError`.
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

from .exceptions import (AuthorizationError, CloudFilesError, InvalidInputError, PreconditionFailedError,
                         UnsupportedOperationError)

FORMAT = "cloudfiles-ledger/1"
DEFAULT_CHUNK_SIZE = 1000
MAX_CHUNK_SIZE = 100_000
MAX_META_BYTES = 64 * 1024
MAX_LEASE_BYTES = 4 * 1024
MAX_KEY_BYTES = 4096
MAX_CHUNKS = 1_000_000  # chunk numbers have six digits
#: Leases shorter than this would expire between two renewals on a busy machine.
MIN_LEASE_MSEC = 1000
#: The lease used when none is asked for (``lease_msec=0``: the sqlite ledger's "single client").
DEFAULT_LEASE_MSEC = 60_000
#: Slack added before a lease counts as expired: Last-Modified has one-second resolution on S3.
SKEW_MARGIN_MSEC = 1000
_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_CLIENT_ID = re.compile(r"[0-9a-f]{32}\Z")
_NONCE = re.compile(r"[0-9a-f]{1,64}\Z")
#: The only keys a ledger holds (file:// adds a hidden lock file beside each lease).
_LEDGER_KEY = re.compile(r"(meta\.json|chunks/[0-9]{6}\.json|(leases|done)/[0-9]{6}|clients/[0-9a-f]{32}"
                         r"|(leases|done|clients|chunks)/\.[^/]+\.cflock|\.meta\.json\.cflock)\Z")


def is_cloudpath(db: str) -> bool:
    """Whether ``--db``/``db_path`` names a bucket ledger (a cloudpath) rather than an sqlite file."""
    return isinstance(db, str) and "://" in db


def _chunk_name(i: int) -> str:
    return f"{i:06d}"


def _max_chunk_bytes(chunk_size: int) -> int:
    return 1024 + chunk_size * (MAX_KEY_BYTES + 8)


@dataclass
class LedgerRun:
    """What one :meth:`BucketTransfer.execute` did (chunks by number)."""

    client: str
    done: list = field(default_factory=list)       # chunks this client copied and marked done
    taken_over: list = field(default_factory=list)  # of those, chunks whose earlier lease had expired
    lost: list = field(default_factory=list)        # chunks whose lease another client took over meanwhile
    already_done: list = field(default_factory=list)  # leased, then found done by someone else
    files: int = 0
    exhausted: bool = False  # every chunk was done or held here when leasing stopped

    def summary(self) -> str:
        return (f"this client copied {len(self.done)} chunks ({self.files} files); "
                f"{len(self.taken_over)} taken over after a lease expired, {len(self.lost)} leases lost")


class BucketLedger:
    """The file list and leases of one job under a cloudpath (the bucket ledger's
    counterpart of :class:`cloudfiles.resumable_tools.ResumableFileSet`)."""

    def __init__(self, cloudpath: str, lease_msec: int = 0, client: Optional[str] = None, **options: Any):
        from . import paths
        from .datasets import conditional
        from .objects import ObjectCore

        if isinstance(lease_msec, bool) or not isinstance(lease_msec, int) or lease_msec < 0:
            raise InvalidInputError(f"lease_msec must be an int >= 0, got {lease_msec!r}")
        self.lease_msec = max(int(lease_msec) or DEFAULT_LEASE_MSEC, MIN_LEASE_MSEC)
        self.cloudpath = paths.normalize(cloudpath).rstrip("/")
        job = self.cloudpath.rsplit("/", 1)[-1]
        if not _JOB_NAME.match(job):
            raise InvalidInputError(
                f"{cloudpath}: the ledger's last path component is its job name and must be 1-128 of "
                f"A-Z a-z 0-9 . _ - (starting with a letter or digit), got {job!r}")
        self.job = job
        self.core = ObjectCore(self.cloudpath + "/", **options)
        if not conditional.supported(self.core):
            raise InvalidInputError(
                f"{self.cloudpath}: {self.core.protocol}:// offers no conditional writes, which the bucket "
                "ledger needs to give each chunk to exactly one client; use an sqlite --db on a shared disk")
        self.client = client or uuid.uuid4().hex
        self._meta: Optional[dict] = None

    # ------------------------------------------------------------ reading
    def _read(self, key: str, limit: int) -> tuple[Optional[bytes], Optional[str]]:
        from .datasets import conditional

        content, token = conditional.read_versioned(self.core, key)
        if content is not None and len(content) > limit:
            raise InvalidInputError(f"{self.core.abspath(key)}: {len(content)} bytes, more than a ledger "
                                    f"object may hold ({limit}); not a cloudfiles job ledger")
        return content, token

    def _json(self, key: str, content: bytes) -> dict:
        try:
            doc = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise InvalidInputError(f"{self.core.abspath(key)}: not a cloudfiles job ledger object ({err})") from None
        if not isinstance(doc, dict):
            raise InvalidInputError(f"{self.core.abspath(key)}: not a cloudfiles job ledger object (not a JSON object)")
        return doc

    def _bad(self, key: str, what: str) -> InvalidInputError:
        return InvalidInputError(f"{self.core.abspath(key)}: not a cloudfiles job ledger object ({what})")

    def metadata(self) -> dict:
        """``{"source", "dest", "reencode", "created", "chunks", "files", "chunk_size", "init"}``, validated."""
        if self._meta is not None:
            return self._meta
        from . import paths

        content, _ = self._read("meta.json", MAX_META_BYTES)
        if content is None:
            raise InvalidInputError(f"{self.cloudpath}: no transfer job here (no meta.json; run xfer init)")
        doc = self._json("meta.json", content)
        if doc.get("format") != FORMAT:
            raise self._bad("meta.json", f"format {doc.get('format')!r}, expected {FORMAT!r}")
        for name in ("source", "dest", "init"):
            if not isinstance(doc.get(name), str) or not doc[name]:
                raise self._bad("meta.json", f"{name} must be a non-empty string")
        if doc.get("reencode") is not None and not isinstance(doc["reencode"], str):
            raise self._bad("meta.json", "reencode must be a string or null")
        for name, top in (("chunks", MAX_CHUNKS), ("files", MAX_CHUNKS * MAX_CHUNK_SIZE),
                          ("chunk_size", MAX_CHUNK_SIZE), ("created", 2 ** 63)):
            v = doc.get(name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top:
                raise self._bad("meta.json", f"{name} must be an int in [0, {top}]")
        size, n, files = doc["chunk_size"], doc["chunks"], doc["files"]
        if size < 1 or n != -(-files // size):
            raise self._bad("meta.json", f"{files} files do not make {n} chunks of {size}")
        try:
            src, dest = paths.normalize(doc["source"]), paths.normalize(doc["dest"])
        except Exception as err:
            raise self._bad("meta.json", f"bad source or destination: {err}") from None
        self._meta = {"source": src, "dest": dest, "reencode": doc["reencode"], "created": doc["created"],
                      "chunks": n, "files": files, "chunk_size": size, "init": doc["init"]}
        return self._meta

    def chunk_files(self, i: int) -> int:
        """How many names chunk ``i`` holds (all chunks are full but the last)."""
        meta = self.metadata()
        return min(meta["chunk_size"], meta["files"] - i * meta["chunk_size"])

    def names(self, i: int) -> list[str]:
        """The names in chunk ``i``, validated."""
        from . import inputs

        meta = self.metadata()
        key = f"chunks/{_chunk_name(i)}.json"
        content, _ = self._read(key, _max_chunk_bytes(meta["chunk_size"]))
        if content is None:
            raise InvalidInputError(f"{self.core.abspath(key)}: missing; the job ledger is incomplete")
        doc = self._json(key, content)
        names = doc.get("names")
        if doc.get("chunk") != i or doc.get("init") != meta["init"] or not isinstance(names, list):
            raise self._bad(key, f"not chunk {i} of this job")
        if len(names) != self.chunk_files(i):
            raise self._bad(key, f"{len(names)} names, meta.json says {self.chunk_files(i)}")
        for name in names:
            try:
                inputs.check_key(name)
            except InvalidInputError as err:
                raise self._bad(key, str(err)) from None
            if len(name.encode("utf-8", "surrogateescape")) > MAX_KEY_BYTES or name.endswith("/") or "://" in name:
                raise self._bad(key, f"bad file name {name[:200]!r}")
        return names

    def _lease(self, i: int, content: bytes) -> dict:
        key = f"leases/{_chunk_name(i)}"
        doc = self._json(key, content)
        ok = (doc.get("chunk") == i and isinstance(doc.get("client"), str) and _CLIENT_ID.match(doc["client"])
              and isinstance(doc.get("lease_msec"), int) and not isinstance(doc["lease_msec"], bool)
              and MIN_LEASE_MSEC <= doc["lease_msec"] <= 7 * 24 * 3600 * 1000
              and isinstance(doc.get("nonce"), str) and _NONCE.match(doc["nonce"]))
        if not ok:
            raise self._bad(key, "a lease needs chunk, client (32 hex), lease_msec and nonce")
        return doc

    def _numbers(self, prefix: str) -> Iterator[tuple[int, Any]]:
        """``(chunk number, ObjectMeta)`` of the objects under ``prefix`` (done/ or leases/)."""
        n = self.metadata()["chunks"]
        for meta in self.core.entries("meta", prefix, True):
            name = meta.key[len(prefix):]
            if name.startswith(".") and name.endswith(".cflock"):
                continue  # file://'s lock beside a conditionally written object
            if not (len(name) == 6 and name.isdigit() and int(name) < n):
                raise InvalidInputError(f"{self.core.abspath(meta.key)}: not a cloudfiles job ledger object "
                                        f"(expected {prefix}<chunk number below {n}>)")
            yield int(name), meta

    def done(self) -> set:
        return {i for i, _ in self._numbers("done/")}

    # ------------------------------------------------------------- clocks
    def service_now(self) -> Optional[float]:
        """The service's current time (epoch seconds): the Last-Modified of a probe just written."""
        key = self.probe_key()
        self.core.require_writable("write", key)
        self.core.call(self.core.backend.put, key, b"{}", content_type="application/json")
        meta = self.core.stat(key)
        lm = getattr(meta, "last_modified", None)
        return None if lm is None else lm.timestamp()

    def probe_key(self) -> str:
        return f"clients/{self.client}"

    def drop_probe(self) -> None:
        """Delete this client's clock probe, if it can (a leftover probe is one tiny
        object, and ``close()`` removes it with the rest of the ledger)."""
        try:
            self.core.delete(self.probe_key())
        except CloudFilesError:  # gone already, or allowed to write but not to delete
            pass

    def _status_now(self) -> tuple[float, str]:
        """"Now" for :meth:`status`: the service's clock through a probe deleted right after;
        with read-only access (the probe refused) this machine's clock."""
        try:
            now = self.service_now()
        except (AuthorizationError, UnsupportedOperationError):
            return time.time(), "local"
        finally:
            self.drop_probe()
        return (now, "service") if now is not None else (time.time(), "local")

    def check_conditional(self) -> None:
        """Create this client's probe object twice with If-None-Match: * and refuse
        (one error) if the service accepted the second: it ignores conditional writes
        (some S3-compatible stores do), so leases would not be exclusive."""
        from .datasets import conditional

        key = f"clients/{uuid.uuid4().hex}"
        conditional.put_if(self.core, key, b'{"check": 1}', None)
        try:
            conditional.put_if(self.core, key, b'{"check": 2}', None)
        except PreconditionFailedError:
            self.core.delete(key)  # (file:// keeps its empty lock file beside it)
            return
        raise InvalidInputError(
            f"{self.cloudpath}: the service accepted a second create-only write (If-None-Match: *) of "
            f"{self.core.abspath(key)}; it ignores conditional writes, so leases would not be exclusive; "
            "refusing (use an sqlite --db on a shared disk)")

    # ------------------------------------------------------------- writes
    def _lease_body(self, i: int, n: int) -> bytes:
        return json.dumps({"chunk": i, "client": self.client, "lease_msec": self.lease_msec,
                           "renewal": n, "nonce": uuid.uuid4().hex}).encode()

    def create(self, src: str, dest: str, names: Iterable[str], reencode: Optional[str] = None,
               chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict:
        """Write the chunks of ``names`` and then meta.json (create-only: an existing job is refused)."""
        from . import inputs
        from .datasets import conditional

        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise InvalidInputError(f"chunk_size must be an int in [1, {MAX_CHUNK_SIZE}], got {chunk_size!r}")
        if self._read("meta.json", MAX_META_BYTES)[0] is not None:
            raise InvalidInputError(f"{self.cloudpath}: a job already exists here; delete it first "
                                    "(BucketTransfer.close()) or pick another name")
        self._delete(self._ledger_keys())  # a crashed init's leftovers
        self.check_conditional()
        init = uuid.uuid4().hex
        count = files = 0
        batch: list = []

        def flush() -> None:
            nonlocal count
            body = json.dumps({"chunk": count, "init": init, "names": batch}).encode()
            self.core.call(self.core.backend.put, f"chunks/{_chunk_name(count)}.json", body,
                           content_type="application/json")
            count += 1

        for name in names:
            if count >= MAX_CHUNKS:
                raise InvalidInputError(f"more than {MAX_CHUNKS} chunks: use a larger chunk_size")
            inputs.check_key(name)
            if len(name.encode("utf-8", "surrogateescape")) > MAX_KEY_BYTES or "://" in name:
                raise InvalidInputError(f"bad file name for a job: {name[:200]!r}")
            batch.append(name)
            files += 1
            if len(batch) == chunk_size:
                flush()
                batch = []
        if batch:
            flush()
        meta = {"format": FORMAT, "job": self.job, "source": src, "dest": dest, "reencode": reencode,
                "created": int(time.time() * 1000), "chunks": count, "files": files,
                "chunk_size": chunk_size, "init": init}
        try:
            conditional.put_if(self.core, "meta.json", json.dumps(meta).encode(), None)
        except PreconditionFailedError:
            raise InvalidInputError(f"{self.cloudpath}: another client initialised this job meanwhile") from None
        self._meta = None
        return self.metadata()

    def _ledger_keys(self) -> list:
        """Every key under the ledger's root, refusing to go on if any is not a ledger's:
        pointed at someone's data by mistake, init and close must not delete it."""
        keys = [k for k, _ in self.core.files()]
        other = [k for k in keys if not _LEDGER_KEY.match(k)]
        if other:
            raise InvalidInputError(f"{self.cloudpath}: holds {self.core.abspath(other[0])}, which is not part "
                                    "of a cloudfiles job ledger; refusing to use (or delete) it as one")
        return keys

    def _delete(self, keys: list) -> None:
        step = max(int(self.core.features.batch_delete or 1), 1)
        for at in range(0, len(keys), step):
            part = keys[at:at + step]
            if step > 1:
                self.core.delete_batch(part)
            else:
                for k in part:
                    self.core.delete(k)

    def try_lease(self, i: int) -> Optional[str]:
        """Create chunk ``i``'s lease (If-None-Match: *): its token if this client won, else None."""
        from .datasets import conditional

        try:
            return conditional.put_if(self.core, f"leases/{_chunk_name(i)}", self._lease_body(i, 0), None)
        except PreconditionFailedError:
            return None

    def expired_lease(self, i: int, now: Optional[float]) -> tuple[Optional[str], Optional[float]]:
        """``(token, None)`` if chunk ``i``'s lease has expired by the service clock ``now``
        (take it over with that token), else ``(None, seconds until it may expire)``."""
        key = f"leases/{_chunk_name(i)}"
        content, token = self._read(key, MAX_LEASE_BYTES)
        if content is None:  # released meanwhile: create it instead
            return None, 0.0
        lease = self._lease(i, content)
        meta = self.core.stat(key)  # read after the token: this Last-Modified is no older than its version
        lm = getattr(meta, "last_modified", None)
        if lm is None or now is None:
            return self._expired_locally(i, token, lease)
        left = lm.timestamp() + (lease["lease_msec"] + SKEW_MARGIN_MSEC) / 1000 - now
        return (token, None) if left <= 0 else (None, left)

    def _expired_locally(self, i: int, token: Optional[str], lease: dict) -> tuple[Optional[str], Optional[float]]:
        """Without Last-Modified: expired once the token stayed the same for the lease's length,
        as timed by this client's monotonic clock."""
        seen = getattr(self, "_seen", None)
        if seen is None:
            seen = self._seen = {}
        first = seen.get(i)
        now = time.monotonic()
        if first is None or first[0] != token:
            seen[i] = (token, now)
            return None, (lease["lease_msec"] + SKEW_MARGIN_MSEC) / 1000
        left = first[1] + (lease["lease_msec"] + SKEW_MARGIN_MSEC) / 1000 - now
        return (token, None) if left <= 0 else (None, left)

    def take_over(self, i: int, token: str) -> Optional[str]:
        """Overwrite an expired lease (If-Match: token): the new token if this client won."""
        from .datasets import conditional

        try:
            return conditional.put_if(self.core, f"leases/{_chunk_name(i)}", self._lease_body(i, 0), token)
        except PreconditionFailedError:
            return None

    def renew(self, i: int, token: str, n: int) -> Optional[str]:
        """Extend this client's lease on chunk ``i`` (If-Match): the new token, None if it was lost."""
        from .datasets import conditional

        try:
            return conditional.put_if(self.core, f"leases/{_chunk_name(i)}", self._lease_body(i, n), token)
        except PreconditionFailedError:
            return None

    def mark_done(self, i: int) -> None:
        body = json.dumps({"chunk": i, "client": self.client, "files": self.chunk_files(i)}).encode()
        self.core.call(self.core.backend.put, f"done/{_chunk_name(i)}", body, content_type="application/json")

    def is_done(self, i: int) -> bool:
        return self.core.exists(f"done/{_chunk_name(i)}")

    def release(self) -> int:
        """Drop every lease (e.g. after all clients were stopped); how many there were."""
        keys = [m.key for _, m in self._numbers("leases/")]
        self._delete(keys)
        return len(keys)

    def delete(self) -> None:
        """Remove the whole ledger."""
        self._delete(self._ledger_keys())
        self._meta = None

    # ------------------------------------------------------------- status
    def status(self) -> dict:
        """Counts in files and chunks: total, finished, leased (live), available."""
        meta = self.metadata()
        done = self.done()
        now: Optional[float] = None
        clock = "none"
        leased = set()
        for i, m in self._numbers("leases/"):
            if i in done:
                continue
            content, _ = self._read(m.key, MAX_LEASE_BYTES)
            if content is None:
                continue
            lease = self._lease(i, content)
            if now is None:
                now, clock = self._status_now()
            lm = m.last_modified.timestamp() if m.last_modified is not None else now
            if lm + (lease["lease_msec"] + SKEW_MARGIN_MSEC) / 1000 > now:
                leased.add(i)
        finished = sum(self.chunk_files(i) for i in done)
        in_lease = sum(self.chunk_files(i) for i in leased)
        return {"total": meta["files"], "finished": finished, "leased": in_lease,
                "available": meta["files"] - finished - in_lease, "chunks": meta["chunks"],
                "chunks_done": len(done), "chunks_leased": len(leased), "clock": clock}

    def total(self) -> int:
        return self.metadata()["files"]

    def finished(self) -> int:
        return sum(self.chunk_files(i) for i in self.done())

    def remaining(self) -> int:
        return self.total() - self.finished()

    def num_leased(self) -> int:
        return self.status()["leased"]

    def available(self) -> int:
        return self.status()["available"]

    def __len__(self) -> int:
        return self.remaining()


class _Renewer:
    """Renews this client's leases (If-Match) every third of the lease, in one thread."""

    def __init__(self, ledger: BucketLedger):
        self.ledger = ledger
        self.held: dict = {}  # chunk -> [token, renewals]
        self.lost: set = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, name="cloudfiles-lease-renewer", daemon=True)
        self.thread.start()

    def hold(self, i: int, token: str) -> None:
        with self.lock:
            self.held[i] = [token, 0]

    def drop(self, i: int) -> bool:
        """Stop renewing ``i``; whether the lease was still ours."""
        with self.lock:
            self.held.pop(i, None)
            return i not in self.lost

    def _run(self) -> None:
        period = self.ledger.lease_msec / 3000
        while not self.stop.wait(period):
            with self.lock:
                items = list(self.held.items())
            for i, (token, n) in items:
                try:
                    new = self.ledger.renew(i, token, n + 1)
                except BaseException as err:  # keep going: a failed renewal is retried next period
                    self.error = err
                    continue
                with self.lock:
                    if i not in self.held:
                        continue
                    if new is None:
                        self.lost.add(i)
                        self.held.pop(i, None)
                    else:
                        self.held[i] = [new, n + 1]

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def lease_chunks(ledger: BucketLedger, renewer: _Renewer, run: LedgerRun, stop: Callable[[], bool],
                 mine: set, wait: bool = True) -> Iterator[tuple[int, list]]:
    """Lease chunks one at a time and yield ``(chunk, names)``. When every open chunk is
    leased by others, take over one whose lease has expired, else (``wait``) wait for
    one to expire, or (not ``wait``) return. Sets ``run.exhausted`` when every chunk is
    done or in ``mine`` (the chunks this client holds).

    Leases are never deleted (but by :meth:`BucketLedger.release`), so creating one
    fails for every chunk ever leased: the listings only save futile requests, and the
    free chunks of one listing are tried in turn before listing again.
    """
    meta = ledger.metadata()
    n = meta["chunks"]
    start = int(uuid.UUID(ledger.client).int % n) if n else 0  # spread clients over the list
    order = list(range(start, n)) + list(range(start))
    while not stop():
        done = ledger.done()
        leased = {i for i, _ in ledger._numbers("leases/")}
        todo = [i for i in order if i not in done and i not in mine]
        if not todo:
            run.exhausted = True
            return
        free = [i for i in todo if i not in leased]
        won = False
        for i in free:
            if stop():
                return
            token = ledger.try_lease(i)
            if token is not None and _claim(ledger, renewer, run, mine, i, token, False):
                won = True
                yield i, ledger.names(i)
        if won or free:
            continue  # list again: what is left may have changed meanwhile
        now = ledger.service_now()
        pause = 1.0
        for i in todo:
            token, left = ledger.expired_lease(i, now)
            if token is not None:
                new = ledger.take_over(i, token)
                if new is not None and _claim(ledger, renewer, run, mine, i, new, True):
                    won = True
                    yield i, ledger.names(i)
                    break  # list again before judging the rest
                pause = 0.0
            elif left is not None:
                pause = min(pause, left)
        if won:
            continue
        if not wait:
            return
        time.sleep(min(max(pause, 0.05), 1.0))


def _claim(ledger: BucketLedger, renewer: _Renewer, run: LedgerRun, mine: set, i: int, token: str,
           taken: bool) -> bool:
    """Hold a lease just won; False if the chunk turned out done (by a slow holder
    between our listing and our lease)."""
    renewer.hold(i, token)
    if ledger.is_done(i):
        renewer.drop(i)
        run.already_done.append(i)
        return False
    mine.add(i)
    if taken:
        run.taken_over.append(i)
    return True


class BucketTransfer:
    """A transfer job kept in a bucket ledger (the counterpart of
    :class:`cloudfiles.resumable_tools.ResumableTransfer` for machines without a shared disk)."""

    def __init__(self, cloudpath: str, lease_msec: int = 0, **options: Any):
        self.db_path = cloudpath
        self.rfs = BucketLedger(cloudpath, lease_msec, **options)

    def __len__(self) -> int:
        return len(self.rfs)

    def init(self, src: str, dest: str, paths: Any = None, reencode: Optional[str] = None,
             chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict:
        """Record the job: every file under ``src`` (or ``paths``: names, or a cloudpath to list)."""
        from . import paths as _paths
        from .objects import ObjectCore

        src, dest = _paths.normalize(src), _paths.normalize(dest)
        root = self.rfs.cloudpath + "/"
        if paths is None or isinstance(paths, str):
            listed = src if paths is None else _paths.normalize(paths)
            if root.startswith(listed.rstrip("/") + "/"):
                raise InvalidInputError(f"{self.rfs.cloudpath}: the ledger lies under the listed source "
                                        f"{listed}; keep it elsewhere")
            names: Iterable[str] = (k for k, _ in ObjectCore(listed).files())
        else:
            names = (p for p in paths if not p.endswith("/"))
        return self.rfs.create(src, dest, names, reencode, chunk_size)

    def execute(self, progress: bool = False, block_size: int = 200, executor: Any = None) -> LedgerRun:
        """Lease chunks and copy them until every chunk is done (taking over expired leases
        of dead clients). ``executor`` (a Dask client or process pool) copies each leased
        chunk as one shipped transfer batch. Returns what this client did."""
        ledger = self.rfs
        meta = ledger.metadata()
        ledger.check_conditional()
        run = LedgerRun(client=ledger.client)
        renewer = _Renewer(ledger)
        from .dispatch import _Bar

        bar = _Bar(progress, meta["files"], "Transfer")
        try:
            if bar.bar is not None:
                bar.update(ledger.finished())
            if executor is not None:
                from .dispatch import use
                from .objects import ObjectCore

                if not use(executor, ObjectCore(meta["source"]), ObjectCore(meta["dest"])):
                    executor = None  # mem:// lives in this process: copy here
            if executor is None:
                self._local(meta, ledger, renewer, run, bar)
            else:
                self._shipped(meta, ledger, renewer, run, bar, executor)
        finally:
            renewer.close()
            bar.close()
            ledger.drop_probe()
        return run

    def _finish(self, i: int, ledger: BucketLedger, renewer: _Renewer, run: LedgerRun, bar: Any) -> None:
        ledger.mark_done(i)
        if not renewer.drop(i):
            run.lost.append(i)
        run.done.append(i)
        files = ledger.chunk_files(i)
        run.files += files
        bar.update(files)

    def _local(self, meta: dict, ledger: BucketLedger, renewer: _Renewer, run: LedgerRun, bar: Any) -> None:
        from .cloudfiles import CloudFiles

        src = CloudFiles(meta["source"])
        for i, names in lease_chunks(ledger, renewer, run, lambda: False, set()):
            try:
                src.transfer_to(meta["dest"], paths=names, reencode=meta["reencode"])
            except BaseException:
                renewer.drop(i)
                raise
            self._finish(i, ledger, renewer, run, bar)

    def _shipped(self, meta: dict, ledger: BucketLedger, renewer: _Renewer, run: LedgerRun, bar: Any,
                 executor: Any) -> None:
        from .jobs import BatchSpec, ship, shippable_options
        from .objects import ObjectCore
        from .transfer import TransferResult, finish

        src, dest = ObjectCore(meta["source"]), ObjectCore(meta["dest"])
        src_opts, dest_opts = shippable_options(src.options), shippable_options(dest.options)
        kw = {"reencode": meta["reencode"], "content_type": None, "skip": None, "block_size": 64}
        chunk_of: dict = {}
        failed = False
        result = TransferResult()

        mine: set = set()

        def specs() -> Iterator[Any]:
            # never waits for other clients' leases: results of batches in flight must keep
            # coming back (and their chunks marked done) while this client waits
            for i, names in lease_chunks(ledger, renewer, run, lambda: failed, mine, wait=False):
                spec = BatchSpec("transfer", src.cloudpath, src_opts, [(k, k, None) for k in names], kw,
                                 dest.cloudpath, dest_opts)
                chunk_of[id(spec)] = i
                yield spec

        try:
            while True:
                for spec, part in ship(executor, specs()):
                    i = chunk_of.pop(id(spec))
                    result.merge(part)
                    if part.failed or part.missing:
                        failed = True
                        renewer.drop(i)
                        continue
                    self._finish(i, ledger, renewer, run, bar)
                if failed or run.exhausted:
                    break
                time.sleep(0.5)  # only other clients' live leases are left: look again shortly
        finally:
            for i in chunk_of.values():
                renewer.drop(i)
        finish(result, src, allow_missing=False)

    def close(self) -> None:
        """Delete the job's ledger objects."""
        self.rfs.delete()


def open_transfer(db: str, lease_msec: int = 0) -> Any:
    """The job at ``db``: a :class:`BucketTransfer` for a cloudpath, else an sqlite
    :class:`~cloudfiles.resumable_tools.ResumableTransfer`."""
    if is_cloudpath(db):
        return BucketTransfer(db, lease_msec)
    from .resumable_tools import ResumableTransfer

    return ResumableTransfer(db, lease_msec)


__all__ = ["BucketLedger", "BucketTransfer", "LedgerRun", "open_transfer", "is_cloudpath"]
