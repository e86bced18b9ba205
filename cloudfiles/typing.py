"""Type aliases for annotating code that calls cloudfiles (cloud-files 6.4.3's names)."""
from __future__ import annotations

from typing import Any, BinaryIO, Dict, Iterable, Optional, Tuple, TypeVar, Union

T = TypeVar("T")
#: one item or an iterable of them (a str counts as one item)
ScalarOrIterable = Union[T, Iterable[T]]
#: ``compress=`` values: an encoding name, True (gzip), False/None (none)
CompressType = Optional[Union[str, bool]]
#: paths accepted by ``get``/``exists``/``delete``...
GetPathType = ScalarOrIterable[str]
#: one item of ``puts``: ``(path, content)`` or a dict with ``path`` and ``content`` keys
PutScalarType = Union[Tuple[str, Union[BinaryIO, bytes]], Dict[str, Any]]
PutType = ScalarOrIterable[PutScalarType]
#: ``parallel=``: a process count, or True for one per core
ParallelType = Union[int, bool]
#: ``secrets=``: a dict of credentials or the path of a JSON secrets file
SecretsType = Optional[Union[str, dict]]
