"""Every error cloudfiles raises, in one hierarchy rooted at :class:`CloudFilesError`.

Each class also derives from the closest built-in exception (``ValueError``,
``FileNotFoundError``, ``PermissionError`` ...) so callers that already catch
those keep working.
"""
from __future__ import annotations

from typing import Any


class CloudFilesError(Exception):
    """Root of every error raised by cloudfiles. Passwords in URLs in its
    message are replaced by ``***`` (see :mod:`cloudfiles.redact`).

    Errors from a failed request carry what is known about it (None otherwise):
    ``path`` (the cloudpath or URL asked for), ``status`` (the HTTP status, None
    for a connection failure), ``service`` (``"s3"``, ``"gcs"``, ``"http"``) and
    ``request_id`` (the service's id for the request, for its support). They are
    set by the backends' wire layer and survive pickling.
    """

    path: "str | None" = None
    status: "int | None" = None
    service: "str | None" = None
    request_id: "str | None" = None

    def __init__(self, *args: object, path: "str | None" = None, status: "int | None" = None,
                 service: "str | None" = None, request_id: "str | None" = None):
        from .redact import redact

        super().__init__(*(redact(a) for a in args))
        for name, value in (("path", path), ("status", status), ("service", service),
                            ("request_id", request_id)):
            if value is not None:
                setattr(self, name, redact(value) if name == "path" else value)


class CloudPathError(CloudFilesError, ValueError):
    """A cloudpath is malformed."""


class UnsupportedProtocolError(CloudPathError):
    """A cloudpath names a protocol cloudfiles does not speak."""


class InvalidInputError(CloudFilesError, ValueError):
    """Arguments that cannot be acted on: wrong types, duplicate paths, bad options."""


class UnsafeKeyError(CloudPathError, InvalidInputError):
    """A key that would resolve outside its root (absolute, '..', NUL, symlink out, too deep)."""

    def __init__(self, message: str, key: object = None):
        super().__init__(message)
        self.key = key

    def __reduce__(self):  # keep ``key`` (and the request fields) across processes
        return type(self), (str(self), self.key), self.__dict__


class BadRangeError(InvalidInputError):
    """A byte range that is negative, reversed or otherwise unusable."""


class CompressionError(CloudFilesError, ValueError):
    """Base for compression problems."""


class UnsupportedCompressionType(CompressionError, InvalidInputError):
    """An encoding name cloudfiles does not know."""


class DecompressionError(CompressionError):
    """Stored bytes could not be decoded with the encoding they claim."""


class DecompressionBombError(DecompressionError):
    """Decoding would produce more bytes than the decompression limit allows.

    ``key``, ``encoding``, ``stored_size`` (compressed bytes: the object, or
    the chunk of a stream) and ``limit`` (bytes) say which object tripped it.
    """

    def __init__(self, message: str, key: object = None, encoding: object = None,
                 stored_size: int | None = None, limit: int | None = None):
        super().__init__(message)
        self.key, self.encoding, self.stored_size, self.limit = key, encoding, stored_size, limit


class NotFoundError(CloudFilesError, FileNotFoundError):
    """A file (or bucket) does not exist."""


class BucketNotFoundError(NotFoundError):
    """The bucket (or local root) named by a cloudpath does not exist."""


class AuthorizationError(CloudFilesError, PermissionError):
    """The service refused the request (401/403)."""


class CredentialsError(AuthorizationError):
    """No usable credentials were found for a bucket."""


class IntegrityError(CloudFilesError):
    """Bytes did not match their checksum (md5, crc32c, ETag) or their declared size."""


class MD5IntegrityError(IntegrityError):
    """An md5 or S3 ETag check failed."""


class CRC32CIntegrityError(IntegrityError):
    """A crc32c check failed."""


class UnsupportedOperationError(CloudFilesError, NotImplementedError):
    """The backend cannot perform this operation (e.g. writing over plain HTTP)."""


class TransientError(CloudFilesError):
    """A failure worth retrying: a dropped connection, a timeout, 429 or 5xx.

    ``retry_after`` is the wait in seconds a server asked for (``Retry-After``), if any.
    """

    retry_after: "float | None" = None


class ServerError(TransientError):
    """The service answered 5xx."""


class ThrottledError(TransientError):
    """The service answered 429 / SlowDown."""


class NetworkError(TransientError, ConnectionError):
    """The connection failed, was dropped or timed out."""


class TruncatedBodyError(NetworkError):
    """A response body ended before the length its server declared (retried)."""


class BadResponseError(NetworkError):
    """A response broke HTTP framing: a malformed status line, header or chunk size,
    or more bytes than it declared (retried: a proxy hiccup can cause it)."""


class ResponseTooLargeError(CloudFilesError, MemoryError):
    """A response body (declared or received) is larger than the in-memory maximum
    (``max_body``); not retried. Like numpy's allocation errors it is a MemoryError."""


class DeadlineExceededError(CloudFilesError, TimeoutError):
    """One request (connect + send + whole response) ran past its total ``deadline``;
    not retried (a retry would meet the same slow server)."""


class TLSVerificationError(CloudFilesError, ConnectionError):
    """The server's TLS certificate failed verification; not retried. Names the host."""

    def __init__(self, message: str, host: str = ""):
        super().__init__(message)
        self.host = host


class PreconditionFailedError(CloudFilesError):
    """A conditional write lost a race: the object changed since it was read."""


class ObjectChangedError(PreconditionFailedError):
    """The object was replaced while it was being read in parts (its ETag or
    generation no longer matches the one the read was pinned to)."""


class ListingError(CloudFilesError):
    """A server's listing cannot be followed: a repeated page token, pages going
    backwards, keys outside the prefix asked for, or more pages than the bound."""


class TransferError(CloudFilesError):
    """Some files of a transfer failed; ``errors`` maps each path to its exception."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.errors = errors or {}


class MissingSourceError(TransferError, NotFoundError):
    """A transfer whose only failures are missing sources (``allow_missing=False``).

    It is a :class:`TransferError` (``.errors``, ``.result``) and a
    ``FileNotFoundError``, which is what cloud-files raises for a missing source.
    """


class WorkersLostError(CloudFilesError):
    """Shipped batches did not complete because their worker processes kept dying
    (a process pool's children, or a Dask batch's workers more often than the
    scheduler's ``allowed-failures``).

    ``incomplete`` is how many shipped batches never returned a result;
    ``replacements`` how many replacement process pools were tried first;
    ``result`` what the call had finished before it gave up, shaped as the call
    returns it (``get``: the result dicts; ``puts``: the count written;
    ``delete``: the count deleted; ``exists``: the ``{key: bool}`` found;
    ``transfer_to``/``transfer_from``: a ``TransferResult``; ``sync``: a ``SyncResult``).
    """

    def __init__(self, message: str, incomplete: int = 0, replacements: int = 0, result: Any = None):
        super().__init__(message)
        self.incomplete = incomplete
        self.replacements = replacements
        self.result = result

    def __reduce__(self):
        return type(self), (str(self), self.incomplete, self.replacements), self.__dict__


__all__ = [name for name in dir() if name.endswith("Error") or name == "UnsupportedCompressionType"]
