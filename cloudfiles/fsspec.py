"""An fsspec filesystem over every cloudfiles backend.

pandas, pyarrow, dask and zarr reach storage through fsspec; this module lets
them use cloudfiles' connection pools, retries, integrity checks and
transparent decoding of stored gzip/br/zstd objects::

    from cloudfiles.fsspec import CloudFilesFileSystem
    fs = CloudFilesFileSystem("s3", endpoint="http://127.0.0.1:9000")
    fs.cat_file("bucket/key", start=0, end=100)

    import cloudfiles.fsspec
    cloudfiles.fsspec.register("s3", "gs")      # opt in: fsspec's s3:// now means us
    pd.read_parquet("s3://bucket/table.parquet", storage_options={"endpoint": ...})

Paths are ``bucket/key`` for s3, gs, mem and http(s) (the host takes the
bucket's place), and absolute local paths for file. Object stores have no
directories: a directory exists while a key lies under it, and ``mkdir`` /
``makedirs`` create nothing.

An object stored with a Content-Encoding is read decoded: ``open`` fetches and
decodes it whole (its decoded size is unknown until then), ``cat_file`` ranges
address decoded bytes, and ``info`` reports the stored size with the
``content_encoding``.
"""
from __future__ import annotations

import threading
from glob import has_magic
from typing import Any, Iterable, Optional

import fsspec
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from .cloudfiles import CloudFiles
from .exceptions import InvalidInputError

PROTOCOLS = ("s3", "gs", "file", "mem", "http", "https")
_CF_OPTIONS = frozenset({
    "secrets", "num_threads", "green", "use_https", "endpoint", "parallel", "request_payer",
    "no_sign_request", "timeout", "retry_policy", "part_size", "part_threads", "large_threshold",
})
# Options fsspec or its callers pass to every filesystem; they mean nothing to CloudFiles.
_FSSPEC_OPTIONS = frozenset({"asynchronous", "loop", "skip_instance_cache", "use_listings_cache",
                             "listings_expiry_time", "max_paths"})


class CloudFilesFileSystem(AbstractFileSystem):
    """fsspec's ``AbstractFileSystem`` over one cloudfiles protocol.

    ``protocol`` is one of ``s3, gs, file, mem, http, https``; the other keywords
    are ``CloudFiles``' (``endpoint``, ``secrets``, ``no_sign_request``,
    ``request_payer``, ``num_threads``, ``timeout``, ...). Unknown keywords raise
    ``TypeError`` naming them.
    """

    protocol = ("cloudfiles",)
    cf_protocol: Optional[str] = None  # fixed by register(); else given to __init__
    root_marker = ""

    def __new__(cls, protocol: Optional[str] = None, **options: Any):
        # CloudFilesFileSystem("s3", ...) builds the subclass fixed to s3, so that
        # fsspec's class-level path handling (``_strip_protocol``) knows the protocol.
        if cls.cf_protocol is None:
            cls = filesystem_class(protocol)
        return object.__new__(cls)

    def __init__(self, protocol: Optional[str] = None, **options: Any):
        if protocol is not None and protocol != self.cf_protocol:
            raise InvalidInputError(f"this filesystem serves {self.cf_protocol}://, not {protocol}://")
        fs_options = {k: options.pop(k) for k in list(options) if k in _FSSPEC_OPTIONS}
        unknown = sorted(set(options) - _CF_OPTIONS)
        if unknown:
            raise TypeError(f"unknown storage option(s) for cloudfiles: {', '.join(unknown)}")
        super().__init__(**fs_options)
        self.cf_options = options
        self._clients: dict[str, CloudFiles] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------- paths
    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = fsspec.utils.stringify_path(path)
        for proto in (*cls.protocol, *PROTOCOLS):
            if path.startswith(proto + "://"):
                path = path[len(proto) + 3:]
                break
        if cls.cf_protocol == "file":
            return "/" + path.strip("/") if path.strip("/") else "/"
        return path.strip("/")

    @classmethod
    def _dirname(cls, path: str) -> str:
        """The directory holding ``path``: the key of its listing in the cache."""
        path = cls._strip_protocol(path)
        return path.rsplit("/", 1)[0] if "/" in path else ""

    def unstrip_protocol(self, name: str) -> str:
        path = self._strip_protocol(name)
        return f"file://{path}" if self.cf_protocol == "file" else f"{self.cf_protocol}://{path}"

    def _split(self, path: str) -> tuple[CloudFiles, str]:
        """The CloudFiles of a path's bucket, and its key there."""
        path = self._strip_protocol(path)
        if self.cf_protocol == "file":
            bucket, key = "", path.lstrip("/")
        else:
            bucket, _, key = path.partition("/")
            if not bucket:
                raise InvalidInputError(f"{self.cf_protocol}:// paths need a bucket, got {path!r}")
        with self._lock:
            cf = self._clients.get(bucket)
            if cf is None:
                root = "file:///" if self.cf_protocol == "file" else f"{self.cf_protocol}://{bucket}"
                cf = self._clients[bucket] = CloudFiles(root, **self.cf_options)
        return cf, key

    def _full(self, bucket_path: str, key: str) -> str:
        if self.cf_protocol == "file":
            return "/" + key.strip("/")
        bucket = self._strip_protocol(bucket_path).partition("/")[0]
        return f"{bucket}/{key}".rstrip("/")

    # ------------------------------------------------------------ reads
    def info(self, path, **kwargs) -> dict:
        path = self._strip_protocol(path)
        cf, key = self._split(path)
        if key:
            meta = cf.head(key)
            if meta is not None:
                return self._file_entry(path, meta.get("Content-Length"), meta)
        if not key or cf.isdir(key):
            return {"name": path, "size": 0, "type": "directory"}
        raise FileNotFoundError(path)

    @staticmethod
    def _file_entry(name: str, size: Optional[int], meta: Optional[dict] = None) -> dict:
        entry = {"name": name, "size": size, "type": "file"}
        if meta:
            entry.update(content_encoding=meta.get("Content-Encoding"), ETag=meta.get("ETag"),
                         LastModified=meta.get("Last-Modified"), content_type=meta.get("Content-Type"))
        return entry

    def ls(self, path, detail: bool = True, **kwargs):
        path = self._strip_protocol(path)
        cf, key = self._split(path)
        prefix = key.rstrip("/") + "/" if key else ""
        entries = []
        for k, size in cf.list_sizes(prefix, flat=True):
            full = self._full(path, k)
            if k.endswith("/"):
                entries.append({"name": full, "size": 0, "type": "directory"})
            else:
                entries.append(self._file_entry(full, size))
        if not entries:
            if key:
                meta = cf.head(key)
                if meta is not None:
                    entries = [self._file_entry(path, meta.get("Content-Length"), meta)]
            if not entries and key:
                raise FileNotFoundError(path)
        return entries if detail else [e["name"] for e in entries]

    def find(self, path, maxdepth=None, withdirs=False, detail=False, **kwargs):
        if maxdepth is not None:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        path = self._strip_protocol(path)
        cf, key = self._split(path)
        out: dict[str, dict] = {}
        if key:
            meta = cf.head(key)
            if meta is not None:
                out[path] = self._file_entry(path, meta.get("Content-Length"), meta)
        prefix = key.rstrip("/") + "/" if key else ""
        for k, size in cf.list_sizes(prefix, flat=False):
            full = self._full(path, k)
            out[full] = self._file_entry(full, size)
            if withdirs:
                parts = k[len(prefix):].split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    d = self._full(path, prefix + "/".join(parts[:i]))
                    out.setdefault(d, {"name": d, "size": 0, "type": "directory"})
        if withdirs and out and key and path not in out:
            out[path] = {"name": path, "size": 0, "type": "directory"}
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    def cat_file(self, path, start: Optional[int] = None, end: Optional[int] = None, **kwargs) -> bytes:
        cf, key = self._split(path)
        if (start is not None and start < 0 and end is not None) or (end is not None and end < 0):
            size = self.size(path)
            start = None if start is None else (start + size if start < 0 else start)
            end = end + size if end < 0 else end
        if start is not None and end is not None and end <= start:
            return b""
        req = {"path": key, "start": start, "end": end} if start is not None or end is not None else key
        data = cf.get(req)
        if data is None:
            raise FileNotFoundError(self._strip_protocol(path))
        return data

    def cat(self, path, recursive=False, on_error="raise", **kwargs):
        paths = self.expand_path(path, recursive=recursive)
        single = len(paths) == 1 and not self._intrans_list(path, recursive)
        out: dict[str, Any] = {}
        by_cf: dict[int, tuple[CloudFiles, list[tuple[str, str]]]] = {}
        for p in paths:
            cf, key = self._split(p)
            by_cf.setdefault(id(cf), (cf, []))[1].append((p, key))
        for cf, items in by_cf.values():
            keys = {key: p for p, key in items}
            for res in cf.get(list(keys)):
                p = keys[res["path"]]
                if res["error"] is not None:
                    out[p] = res["error"]
                elif res["content"] is None:
                    out[p] = FileNotFoundError(p)
                else:
                    out[p] = res["content"]
        if on_error == "raise":
            for v in out.values():
                if isinstance(v, BaseException):
                    raise v
        elif on_error == "omit":
            out = {k: v for k, v in out.items() if not isinstance(v, BaseException)}
        if single:
            return next(iter(out.values())) if out else b""
        return out

    @staticmethod
    def _intrans_list(path, recursive) -> bool:
        return isinstance(path, list) or recursive or (isinstance(path, str) and has_magic(path))

    # ----------------------------------------------------------- writes
    def pipe_file(self, path, value, mode: str = "overwrite", **kwargs) -> None:
        cf, key = self._split(path)
        if mode == "create" and cf.exists(key):
            raise FileExistsError(self._strip_protocol(path))
        cf.put(key, bytes(value), compress=kwargs.get("compress"),
               content_type=kwargs.get("content_type"))
        self.invalidate_cache(self._dirname(path))

    def rm_file(self, path) -> None:
        cf, key = self._split(path)
        cf.delete(key)

    def _rm(self, path) -> None:
        self.rm_file(path)

    def rm(self, path, recursive: bool = False, maxdepth=None) -> None:
        paths = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        by_cf: dict[int, tuple[CloudFiles, list[str]]] = {}
        for p in paths:
            cf, key = self._split(p)
            if key and not key.endswith("/"):
                by_cf.setdefault(id(cf), (cf, []))[1].append(key)
        for cf, keys in by_cf.values():
            cf.delete(keys)
        if recursive and self.cf_protocol == "file":
            self._remove_empty_dirs(path)
        self.invalidate_cache()

    def _remove_empty_dirs(self, path) -> None:
        """``rm -r`` of a local directory also removes the directories it left empty."""
        import os

        for top in (path if isinstance(path, list) else [path]):
            top = self._strip_protocol(top)
            if not os.path.isdir(top) or os.path.islink(top):
                continue
            for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass  # not empty: something not removed lives there

    def cp_file(self, path1, path2, **kwargs) -> None:
        src, k1 = self._split(path1)
        dest, k2 = self._split(path2)
        if not src.exists(k1):
            raise FileNotFoundError(self._strip_protocol(path1))
        result = src.transfer_to(dest, paths=[{"path": k1, "dest_path": k2}])
        errors = getattr(result, "errors", None)
        if errors:
            raise next(iter(errors.values()))

    def mkdir(self, path, create_parents: bool = True, **kwargs) -> None:
        """Object stores have no directories: nothing to create."""

    def makedirs(self, path, exist_ok: bool = False) -> None:
        if not exist_ok and self.isdir(path):
            raise FileExistsError(self._strip_protocol(path))

    def created(self, path):
        return self.modified(path)

    def modified(self, path):
        cf, key = self._split(path)
        meta = cf.head(key)
        if meta is None:
            raise FileNotFoundError(self._strip_protocol(path))
        return meta.get("Last-Modified")

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        if mode not in ("rb", "wb", "xb"):
            raise InvalidInputError(f"mode must be 'rb', 'wb' or 'xb' (text modes wrap these), got {mode!r}")
        if mode == "xb" and self.exists(path):
            # Checked at open: not atomic against a concurrent writer of the same key.
            raise FileExistsError(self._strip_protocol(path))
        return CloudFilesFile(self, path, mode, block_size=block_size or "default",
                              autocommit=autocommit, cache_options=cache_options, **kwargs)


class CloudFilesFile(AbstractBufferedFile):
    """A buffered random-access reader (ranged GETs) or a multipart writer."""

    DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024

    def __init__(self, fs: CloudFilesFileSystem, path, mode="rb", block_size="default",
                 autocommit=True, cache_options=None, compress=None, content_type=None, **kwargs):
        self._decoded: Optional[bytes] = None
        self._writer = None
        self._compress = compress
        self._content_type = content_type
        size = None
        if mode == "rb":
            cf, key = fs._split(path)
            meta = cf.head(key)
            if meta is None:
                raise FileNotFoundError(fs._strip_protocol(path))
            size = meta.get("Content-Length")
            if meta.get("Content-Encoding"):
                self._decoded = cf.get(key)
                if self._decoded is None:
                    raise FileNotFoundError(fs._strip_protocol(path))
                size = len(self._decoded)
        super().__init__(fs, path, mode, block_size=block_size, autocommit=autocommit,
                         cache_options=cache_options, size=size, **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        if self._decoded is not None:
            return self._decoded[start:end]
        return self.fs.cat_file(self.path, start=start, end=end)

    def _initiate_upload(self) -> None:
        cf, key = self.fs._split(self.path)
        self._writer = cf.open(key, "wb", compress=self._compress, content_type=self._content_type)

    def _upload_chunk(self, final: bool = False) -> bool:
        if self._writer is None:
            self._initiate_upload()
        self._writer.write(self.buffer.getbuffer())
        if final and self.autocommit:
            self.commit()
        return True

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self.fs.invalidate_cache(self.fs._dirname(self.path))

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self.mode != "rb":
            # A with-block that raised must not publish a half-written object.
            self.discard()
            self.closed = True
            return None
        return super().__exit__(exc_type, exc, tb)


def register(*protocols: str, clobber: bool = True) -> None:
    """Make fsspec URLs of ``protocols`` (default: s3 and gs) go through cloudfiles.

    Opt in: after ``register("s3")``, ``fsspec.open("s3://...")``, pandas and zarr
    use this filesystem, with ``storage_options`` taking CloudFiles' keywords.
    """
    for proto in protocols or ("s3", "gs"):
        fsspec.register_implementation(proto, filesystem_class(proto), clobber=clobber)


def filesystem_class(proto: str) -> type:
    """The CloudFilesFileSystem subclass fixed to one protocol."""
    if proto not in PROTOCOLS:
        raise InvalidInputError(f"cloudfiles has no {proto!r} protocol; one of {', '.join(PROTOCOLS)}")
    with _classes_lock:
        cls = _classes.get(proto)
        if cls is None:
            names = (proto, "s3a") if proto == "s3" else (proto, "gcs") if proto == "gs" else (proto,)
            cls = _classes[proto] = type(f"CloudFiles{proto.capitalize()}FileSystem", (CloudFilesFileSystem,),
                                         {"protocol": names, "cf_protocol": proto, "__module__": __name__})
    return cls


_classes: dict[str, type] = {}
_classes_lock = threading.Lock()
