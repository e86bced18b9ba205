"""The fields a failed request's error carries: ``path``, ``status``, ``service``
and the service's ``request_id`` (what its support asks for).

Backends build the exception a response means; :func:`annotate` then fills
these fields in one place. Fields already set are kept (the innermost layer
knows best).
"""
from __future__ import annotations

import re
from typing import Any, Optional, TypeVar

from ...exceptions import CloudFilesError
from ...redact import redact

E = TypeVar("E", bound=BaseException)

#: response headers carrying a request id, by service (first found wins)
REQUEST_ID_HEADERS = {
    "s3": ("x-amz-request-id", "x-amzn-requestid"),
    "gcs": ("x-guploader-uploadid", "x-goog-request-id"),
    "http": ("x-amz-request-id", "x-amzn-requestid", "x-guploader-uploadid", "x-request-id"),
}
_XML_REQUEST_ID = re.compile(rb"<RequestId>([^<]{1,200})</RequestId>")


def request_id(service: str, headers: Any = None, body: Optional[bytes] = None) -> Optional[str]:
    """The request id ``service`` put in its answer (a header, else an S3 error
    document's ``<RequestId>``), or None."""
    if headers:
        for name in REQUEST_ID_HEADERS.get(service, REQUEST_ID_HEADERS["http"]):
            value = headers.get(name)
            if value:
                return str(value)[:200]
    if body and service in ("s3", "http") and b"<RequestId>" in body[:4096]:
        m = _XML_REQUEST_ID.search(body[:4096])
        if m:
            return m.group(1).decode("utf-8", "replace")
    return None


def annotate(err: E, service: str, path: Optional[str] = None, status: Optional[int] = None,
             headers: Any = None, body: Optional[bytes] = None) -> E:
    """``err`` with ``service``, ``path``, ``status`` and ``request_id`` filled where
    still unset (a non-cloudfiles exception is returned untouched)."""
    if not isinstance(err, CloudFilesError) or err.service is not None:
        return err  # not ours, or annotated already
    err.service = service
    if err.path is None and path is not None:
        err.path = redact(path)
    if err.status is None:
        err.status = status
    if err.request_id is None:
        err.request_id = request_id(service, headers, body)
    return err


def path_in(what: str, scheme: str) -> Optional[str]:
    """The first ``scheme://...`` word of a request description (``"GET gs://b/k"``)."""
    for word in what.split():
        if word.startswith(scheme):
            return word
    return None
