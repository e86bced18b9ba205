"""Codecs for the encodings cloudfiles stores: gzip, br, zstd, xz, bzip2.

gzip uses libdeflate (the ``deflate`` package) for speed, falling back to
zlib for multi-member streams that libdeflate does not join. Encoding names
are normalised once here so every other module speaks the canonical names
``gzip``, ``br``, ``zstd``, ``xz``, ``bzip2`` (``None`` means identity).
"""
from __future__ import annotations

import bz2
import lzma
import zlib
from typing import Iterable, Iterator, Optional, Union

from .exceptions import DecompressionError, UnsupportedCompressionType

ENCODINGS = ("gzip", "br", "zstd", "xz", "bzip2")

_ALIASES = {
    "gzip": "gzip", "gz": "gzip", "x-gzip": "gzip",
    "br": "br", "brotli": "br",
    "zstd": "zstd", "zst": "zstd",
    "xz": "xz", "lzma": "xz",
    "bzip2": "bzip2", "bz2": "bzip2",
}
_IDENTITY = {"", "none", "identity", "raw"}

# file:// and mem:// interoperability: the suffixes the reference library writes.
SUFFIXES = {"gzip": ".gz", "br": ".br", "zstd": ".zstd", "xz": ".xz", "bzip2": ".bz2"}
SUFFIX_TO_ENCODING = {v: k for k, v in SUFFIXES.items()}

DEFAULT_LEVELS = {"gzip": 6, "br": 5, "zstd": 3, "xz": 6, "bzip2": 9}
_LEVEL_RANGES = {"gzip": (0, 12), "br": (0, 11), "zstd": (-7, 22), "xz": (0, 9), "bzip2": (1, 9)}

Encoding = Optional[str]


def normalize_encoding(compress: Union[str, bool, None]) -> Encoding:
    """Map a user's ``compress=`` value to a canonical encoding name or ``None``.

    ``True`` means gzip; ``False``/``None``/``"none"`` mean no compression.
    Raises :class:`UnsupportedCompressionType` naming the bad value.
    """
    if compress is None or compress is False:
        return None
    if compress is True:
        return "gzip"
    if isinstance(compress, str):
        key = compress.strip().lower()
        if key in _IDENTITY:
            return None
        if key in _ALIASES:
            return _ALIASES[key]
    raise UnsupportedCompressionType(
        f"unknown compression {compress!r}; use one of {', '.join(ENCODINGS)}, True (gzip) or None"
    )


def normalize_content_encoding(header: Optional[str]) -> Encoding:
    """Like :func:`normalize_encoding` for a stored Content-Encoding header.

    Unknown values are kept as-is (lowercased) so they can be reported, not guessed.
    """
    if not header:
        return None
    key = header.strip().lower()
    if key in _IDENTITY:
        return None
    return _ALIASES.get(key, key)


def check_level(encoding: Encoding, level: Optional[int]) -> Optional[int]:
    """Validate a compression level for an encoding; ``None`` picks the default."""
    if encoding is None or level is None:
        return None if encoding is None else DEFAULT_LEVELS[encoding]
    if isinstance(level, bool) or not isinstance(level, int):
        raise UnsupportedCompressionType(f"compression_level must be an int, got {level!r}")
    lo, hi = _LEVEL_RANGES[encoding]
    if not lo <= level <= hi:
        raise UnsupportedCompressionType(
            f"compression_level {level} is out of range for {encoding} ({lo}..{hi})"
        )
    return level


def _gzip_compress(data: bytes, level: int) -> bytes:
    import deflate

    return bytes(deflate.gzip_compress(data, max(level, 1))) if level else _zlib_gzip(data, 0)


def _zlib_gzip(data: bytes, level: int) -> bytes:
    co = zlib.compressobj(level, zlib.DEFLATED, 31)
    return co.compress(data) + co.flush()


def _gzip_decompress(data: bytes) -> bytes:
    import deflate

    try:
        out = deflate.gzip_decompress(data)
    except deflate.DeflateError:
        out = None
    # libdeflate stops after the first member. The stream is one member when the
    # trailer's size matches and no second member header can follow; otherwise
    # let zlib walk every member.
    if (
        out is not None
        and int.from_bytes(data[-4:], "little") == (len(out) & 0xFFFFFFFF)
        and data.find(b"\x1f\x8b\x08", 18) == -1
    ):
        return bytes(out)
    try:
        d = zlib.decompressobj(31)
        parts = []
        buf = data
        while buf:
            parts.append(d.decompress(buf))
            if not d.eof:
                raise zlib.error("truncated gzip stream")
            buf = d.unused_data
            d = zlib.decompressobj(31) if buf else d
        return b"".join(parts)
    except zlib.error as err:
        raise DecompressionError(f"invalid gzip data: {err}") from err


def _zstd_decompress(data: bytes) -> bytes:
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    try:
        return dctx.decompress(data)
    except zstandard.ZstdError:
        # Frames written by streaming compressors carry no content size.
        try:
            dobj = dctx.decompressobj()
            out = dobj.decompress(data)
        except zstandard.ZstdError as err:
            raise DecompressionError(f"invalid zstd data: {err}") from err
        if not dobj.eof:
            raise DecompressionError("truncated zstd data")
        return out


def compress(content: bytes, encoding: Encoding, level: Optional[int] = None) -> bytes:
    """Encode ``content`` with ``encoding`` (canonical name or alias) at ``level``."""
    encoding = normalize_encoding(encoding)
    if encoding is None:
        return content
    level = check_level(encoding, level)
    if encoding == "gzip":
        return _gzip_compress(content, level)
    if encoding == "br":
        import brotli

        return brotli.compress(content, quality=level)
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=level).compress(content)
    if encoding == "xz":
        return lzma.compress(content, preset=level)
    return bz2.compress(content, compresslevel=level)


def decompress(content: bytes, encoding: Encoding, path: str = "") -> bytes:
    """Decode ``content`` stored with ``encoding``; errors name ``path`` and the encoding."""
    if encoding is None:
        return content
    enc = normalize_content_encoding(encoding)
    where = f" for {path!r}" if path else ""
    try:
        if enc == "gzip":
            return _gzip_decompress(content)
        if enc == "br":
            import brotli

            return brotli.decompress(content)
        if enc == "zstd":
            return _zstd_decompress(content)
        if enc == "xz":
            return lzma.decompress(content)
        if enc == "bzip2":
            return bz2.decompress(content)
    except DecompressionError as err:
        raise DecompressionError(f"{err}{where}") from err
    except Exception as err:  # each codec has its own error type
        raise DecompressionError(f"invalid {enc} data{where}: {err}") from err
    raise UnsupportedCompressionType(f"unknown stored encoding {encoding!r}{where}")


def transcode(
    files: Iterable[dict],
    encoding: Union[str, bool, None],
    level: Optional[int] = None,
    progress: bool = False,
    in_place: bool = False,
) -> Iterator[dict]:
    """Re-encode results of ``get(..., raw=True)`` (or ``get``) into ``encoding``.

    A generator: each item is a dict with ``content`` and ``compress`` (the
    encoding of the content, as ``get`` reports it when ``raw=True``). Content
    already in the target encoding passes through untouched.
    """
    target = normalize_encoding(encoding)
    if progress:
        from tqdm import tqdm

        files = tqdm(files, desc="Transcoding")
    for f in files:
        current = normalize_content_encoding(f.get("compress")) if f.get("raw", True) else None
        out = f if in_place else dict(f)
        content = f.get("content")
        if content is None or current == target:
            out["compress"] = current
        else:
            content = decompress(content, current, f.get("path", ""))
            out["content"] = compress(content, target, level)
            out["compress"] = target
        out["raw"] = target is not None
        yield out


class StreamCodec:
    """Incremental encoder or decoder with one shape for every encoding:
    ``process(chunk) -> bytes`` then ``flush() -> bytes``."""

    def __init__(self, encoding: Encoding, decode: bool, level: Optional[int] = None, path: str = ""):
        self.encoding = normalize_encoding(encoding) if not decode else normalize_content_encoding(encoding)
        self.decode = decode
        self.path = path
        self._obj = None if self.encoding is None else self._make(check_level(self.encoding, level) if not decode else None)

    def _make(self, level):
        enc = self.encoding
        if enc == "gzip":
            return zlib.decompressobj(31) if self.decode else zlib.compressobj(level, zlib.DEFLATED, 31)
        if enc == "br":
            import brotli

            return brotli.Decompressor() if self.decode else brotli.Compressor(quality=level)
        if enc == "zstd":
            import zstandard

            if self.decode:
                return zstandard.ZstdDecompressor().decompressobj()
            return zstandard.ZstdCompressor(level=level).compressobj()
        if enc == "xz":
            return lzma.LZMADecompressor() if self.decode else lzma.LZMACompressor(preset=level)
        if enc == "bzip2":
            return bz2.BZ2Decompressor() if self.decode else bz2.BZ2Compressor(level)
        raise UnsupportedCompressionType(f"unknown encoding {enc!r}")

    def process(self, chunk: bytes) -> bytes:
        if self._obj is None:
            return chunk
        try:
            if not self.decode:
                return self._obj.process(chunk) if self.encoding == "br" else self._obj.compress(chunk)
            if self.encoding == "br":
                return self._obj.process(chunk)
            if self.encoding == "gzip":
                out = [self._obj.decompress(chunk)]
                while self._obj.eof and self._obj.unused_data:  # next gzip member
                    rest = self._obj.unused_data
                    self._obj = zlib.decompressobj(31)
                    out.append(self._obj.decompress(rest))
                return b"".join(out)
            return self._obj.decompress(chunk)
        except UnsupportedCompressionType:
            raise
        except Exception as err:
            raise DecompressionError(f"invalid {self.encoding} data for {self.path!r}: {err}") from err

    def flush(self) -> bytes:
        if self._obj is None:
            return b""
        if not self.decode:
            return self._obj.finish() if self.encoding == "br" else self._obj.flush()
        finished = {
            "gzip": lambda o: o.eof,
            "br": lambda o: o.is_finished(),
            "zstd": lambda o: o.eof,
            "xz": lambda o: o.eof,
            "bzip2": lambda o: o.eof,
        }[self.encoding](self._obj)
        if not finished:
            raise DecompressionError(f"truncated {self.encoding} data for {self.path!r}")
        return b""
