"""What the conformance suite needs from each backend's fixture."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from cloudfiles import CloudFiles


@dataclass
class Store:
    name: str
    url: str                       # a fresh, empty cloudpath for this test
    kwargs: dict = field(default_factory=dict)   # extra CloudFiles arguments (endpoint, secrets...)
    writable: bool = True
    # For read-only services: a CloudFiles that writes where ``url`` reads.
    writer_factory: Optional[Callable[[], CloudFiles]] = None
    # Stores whose list() works (plain HTTP without an index page does not).
    listable: bool = True
    # Preserves content_type / cache_control metadata.
    keeps_metadata: bool = True
    extra: dict = field(default_factory=dict)

    def cf(self, **kwargs: Any) -> CloudFiles:
        opts = dict(self.kwargs)
        opts.update(kwargs)
        return CloudFiles(self.url, **opts)

    def writer(self) -> CloudFiles:
        return self.writer_factory() if self.writer_factory else self.cf()
