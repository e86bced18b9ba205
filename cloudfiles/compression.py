"""Codecs for the encodings cloudfiles stores: gzip, br, zstd, xz, bzip2.

Encoding names are normalised once here so every other module speaks the
canonical names ``gzip``, ``br``, ``zstd``, ``xz``, ``bzip2`` (``None`` means
identity). The module-level names of cloud-files 6.4.3's
``cloudfiles.compression`` (``COMPRESSION_TYPES``, ``compress``,
``decompress``, ``transcode``, ``gzip_compress``, ``gunzip``, ...) exist here
with the same signatures.

Decoding is bounded (see docs/security.md): one stored object (or one chunk
of a stream) never decodes to more than :func:`output_limit` bytes, which is
``max(256 MiB, 100 x stored size)`` unless ``max_decompressed_size`` (an
argument, or ``$CLOUDFILES_MAX_DECOMPRESSED_SIZE``) sets an absolute limit.
Past it, :class:`DecompressionBombError` names the key, the stored size and
the limit. gzip's ISIZE trailer is never used as the output length: every
member's CRC-32 and length (mod 2**32) are checked against what decoding
produced.
"""
from __future__ import annotations

import bz2
import contextlib
import copy
import lzma
import os
import re
import zlib
from typing import Any, Iterable, Iterator, Optional, Union

from .exceptions import (  # noqa: F401 - CompressionError is public here, as in the reference
    CompressionError,
    DecompressionBombError,
    DecompressionError,
    InvalidInputError,
    UnsupportedCompressionType,
)

ENCODINGS = ("gzip", "br", "zstd", "xz", "bzip2")

# The values cloud-files 6.4.3 accepts for ``compress=`` (its public list).
COMPRESSION_TYPES = [None, False, True, "", "bz2", "bzip2", "gzip", "br", "zstd", "xz", "lzma"]

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
# The order file:// probes a key's variants in: (suffix, encoding).
FILE_VARIANTS = [("", None)] + [(SUFFIXES[e], e) for e in ("gzip", "br", "zstd", "xz", "bzip2")]

DEFAULT_LEVELS = {"gzip": 6, "br": 5, "zstd": 3, "xz": 6, "bzip2": 9}
_LEVEL_RANGES = {"gzip": (0, 12), "br": (0, 11), "zstd": (-7, 22), "xz": (0, 9), "bzip2": (1, 9)}

Encoding = Optional[str]

MiB = 1024 * 1024
# Default decompression bound: max(DEFAULT_FLOOR, DEFAULT_RATIO x stored bytes).
DEFAULT_FLOOR = 256 * MiB
DEFAULT_RATIO = 100
LIMIT_ENV = "CLOUDFILES_MAX_DECOMPRESSED_SIZE"
# Streams yield decoded pieces of at most about this size.
PIECE = 8 * MiB
# zstd frames without a declared size are fed this many bytes per call: one
# call then yields at most 32768 x this (a zstd block expands at most 32768:1).
_ZSTD_SLICE = 4096


# ------------------------------------------------------------------ names
def normalize_encoding(encoding: Union[str, bool, int, None]) -> Encoding:
    """Map a user's ``compress=`` value to a canonical encoding name or ``None``.

    ``True``/``1`` mean gzip; ``False``/``0``/``None``/``""``/``"none"`` mean
    no compression. Raises :class:`UnsupportedCompressionType` (a
    ``ValueError``) naming an unknown value.
    """
    if encoding is None or encoding is False or (type(encoding) is int and encoding == 0):
        return None
    if encoding is True or (type(encoding) is int and encoding == 1):
        return "gzip"
    if isinstance(encoding, str):
        key = encoding.strip().lower()
        if key in _IDENTITY:
            return None
        if key in _ALIASES:
            return _ALIASES[key]
    raise UnsupportedCompressionType(
        f"unknown compression {encoding!r}; use one of {', '.join(ENCODINGS)}, True (gzip) or None"
    )


def normalize_content_encoding(header: Optional[str]) -> Encoding:
    """Like :func:`normalize_encoding` for a stored Content-Encoding header.

    Unknown or stacked values (``lz4``, ``gzip, br``) are kept as they are
    (lowercased) so they can be stored again as-is and reported by name,
    never guessed.
    """
    if not header:
        return None
    key = header.strip().lower()
    if key in _IDENTITY:
        return None
    return _ALIASES.get(key, key)


_TOKEN = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+([ \t]*,[ \t]*[a-z0-9!#$%&'*+.^_`|~-]+)*$")


def stored_encoding(value: Union[str, bool, None], key: str = "") -> Encoding:
    """The encoding to declare for bytes stored as-is (``raw=True`` puts, raw copies).

    Known names are canonicalised; anything else must be a valid HTTP
    Content-Encoding token list and is kept verbatim, so objects with unknown
    or stacked encodings can be moved without being decoded.
    """
    if value is None or isinstance(value, bool):
        return normalize_encoding(value)
    if not isinstance(value, str):
        raise UnsupportedCompressionType(f"unknown compression {value!r} for {key!r}")
    enc = normalize_content_encoding(value)
    if enc is not None and enc not in ENCODINGS and not _TOKEN.match(enc):
        raise UnsupportedCompressionType(f"{value!r} is not a valid Content-Encoding (for {key!r})")
    return enc


def is_supported(encoding: Encoding) -> bool:
    """True for ``None`` and the encodings this module can decode."""
    return encoding is None or encoding in ENCODINGS


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


# ------------------------------------------------------------------ limit
_UNITS = {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB, "t": 1024 * 1024 * MiB}


def parse_size(value: Union[int, str], what: str = "max_decompressed_size") -> int:
    """A positive byte count from an int or a string such as ``"4G"``, ``"512MiB"``."""
    if isinstance(value, bool):
        raise InvalidInputError(f"{what} must be a positive number of bytes, got {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", value.lower())
        if not m:
            raise InvalidInputError(f"{what} must be a byte count such as 1073741824 or 4G, got {value!r}")
        n = int(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise InvalidInputError(f"{what} must be a positive number of bytes, got {value!r}")
    if n < 1:
        raise InvalidInputError(f"{what} must be a positive number of bytes, got {value!r}")
    return n


def configured_limit(max_decompressed_size: Union[int, str, None] = None) -> Optional[int]:
    """The absolute limit in force: the argument, else ``$CLOUDFILES_MAX_DECOMPRESSED_SIZE``,
    else ``None`` (the ratio rule of :func:`output_limit`)."""
    if max_decompressed_size is not None:
        return parse_size(max_decompressed_size)
    env = os.environ.get(LIMIT_ENV)
    if env:
        return parse_size(env, LIMIT_ENV)
    return None


def output_limit(stored_size: int, max_decompressed_size: Union[int, str, None] = None) -> int:
    """Most bytes ``stored_size`` compressed bytes may decode to.

    An absolute ``max_decompressed_size`` (or the environment variable) wins;
    otherwise ``max(DEFAULT_FLOOR, DEFAULT_RATIO * stored_size)``.
    """
    absolute = configured_limit(max_decompressed_size)
    if absolute is not None:
        return absolute
    return max(DEFAULT_FLOOR, DEFAULT_RATIO * stored_size)


class _Budget:
    """Counts decoded bytes against the limit of the current stored chunk."""

    def __init__(self, key: str, encoding: str, absolute: Optional[int], chunked: bool):
        self.key, self.encoding, self.absolute, self.chunked = key, encoding, absolute, chunked
        self.stored = self.limit = self.out = 0

    def start(self, stored: int) -> None:
        self.stored, self.out = stored, 0
        self.limit = self.absolute if self.absolute is not None else max(DEFAULT_FLOOR, DEFAULT_RATIO * stored)

    def room(self, piece: int) -> int:
        """Bytes to ask the codec for: one past the limit, so reaching it proves excess."""
        return max(1, min(piece, self.limit - self.out + 1))

    def take(self, n: int) -> None:
        self.out += n
        if self.out > self.limit:
            where = "a chunk of " if self.chunked else ""
            raise DecompressionBombError(
                f"{where}{self.key or 'the content'!r} ({self.encoding}, {self.stored:,} bytes stored"
                f"{' in the chunk' if self.chunked else ''}) decodes to more than the decompression limit "
                f"of {self.limit:,} bytes; raise it with max_decompressed_size= or ${LIMIT_ENV}",
                key=self.key, encoding=self.encoding, stored_size=self.stored, limit=self.limit,
            )


# -------------------------------------------------------------- decoders
class _Decoder:
    """One encoding's incremental decoder: ``pump(data, room)`` yields output
    pieces of about ``room()`` bytes at most; ``finish()`` checks the end."""

    name = ""

    def __init__(self) -> None:
        self.seen = False

    def finish(self) -> None:
        if not self.seen:
            raise DecompressionError(f"{self.name} data is empty (zero bytes)")


class _GzipDecoder(_Decoder):
    """Every member of a gzip stream through zlib, which checks each member's
    CRC-32 and ISIZE (length mod 2**32) against the decoded bytes."""

    name = "gzip"

    def __init__(self) -> None:
        super().__init__()
        self.d = zlib.decompressobj(31)

    def pump(self, data, room) -> Iterator[bytes]:
        self.seen = self.seen or bool(data)
        while True:
            if self.d.eof:
                if not data:
                    return
                self.d = zlib.decompressobj(31)  # the next member
            limit = room()
            out = self.d.decompress(data, limit)
            if out:
                yield out
            data = self.d.unused_data if self.d.eof else self.d.unconsumed_tail
            if not data and not self.d.eof and len(out) < limit:
                return

    def finish(self) -> None:
        super().finish()
        if not self.d.eof:
            raise DecompressionError("truncated gzip data")


class _BufferedDecoder(_Decoder):
    """bz2 and xz: decompressors with ``max_length``/``needs_input``; streams
    may be concatenated (xz may end in zero padding)."""

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make
        self.d = make()

    def pump(self, data, room) -> Iterator[bytes]:
        self.seen = self.seen or bool(data)
        while True:
            if self.d.eof:
                if not data or (self.name == "xz" and not bytes(data).strip(b"\0")):
                    return
                self.d = self.make()
            out = self.d.decompress(data, room())
            data = b""
            if out:
                yield out
            if self.d.eof:
                data = self.d.unused_data
            elif self.d.needs_input:
                return

    def finish(self) -> None:
        super().finish()
        if not self.d.eof:
            raise DecompressionError(f"truncated {self.name} data")


class _Bz2Decoder(_BufferedDecoder):
    name = "bzip2"

    def __init__(self) -> None:
        super().__init__(bz2.BZ2Decompressor)


class _XzDecoder(_BufferedDecoder):
    name = "xz"

    def __init__(self, memlimit: int) -> None:
        # A crafted header can ask for a dictionary of up to 4 GiB: cap decoder memory too.
        super().__init__(lambda: lzma.LZMADecompressor(memlimit=memlimit))


class _BrotliDecoder(_Decoder):
    name = "br"

    def __init__(self) -> None:
        super().__init__()
        import brotli

        self.d = brotli.Decompressor()

    def pump(self, data, room) -> Iterator[bytes]:
        self.seen = self.seen or bool(data)
        if self.d.is_finished():
            if data:
                raise DecompressionError("trailing data after the end of the br stream")
            return
        # output_buffer_limit may overshoot by a buffer step, so ask for small pieces.
        out = self.d.process(data, output_buffer_limit=min(room(), PIECE))
        while True:
            if out:
                yield out
            if self.d.is_finished() or (not out and self.d.can_accept_more_data()):
                return
            out = self.d.process(b"", output_buffer_limit=min(room(), PIECE))

    def finish(self) -> None:
        super().finish()
        if not self.d.is_finished():
            raise DecompressionError("truncated br data")


class _ZstdDecoder(_Decoder):
    """Frame by frame. A frame that declares its size and fits the room is fed
    whole (zstd refuses output beyond the declared size); other frames are fed
    in small slices so one call's output stays bounded."""

    name = "zstd"

    def __init__(self) -> None:
        super().__init__()
        import zstandard

        self.z = zstandard
        self.dctx = zstandard.ZstdDecompressor()
        self.d = None
        self.whole = False
        self.pending = b""

    def pump(self, data, room) -> Iterator[bytes]:
        self.seen = self.seen or bool(data)
        buf = memoryview(bytes(self.pending) + bytes(data)) if self.pending else memoryview(data)
        self.pending = b""
        while buf:
            if self.d is None or self.d.eof:
                self.d = self.dctx.decompressobj()
                try:
                    size = self.z.frame_content_size(buf[:18].tobytes())
                except self.z.ZstdError:
                    size = -1
                self.whole = 0 <= size < room()
            if self.whole:
                    take, buf = buf, memoryview(b"")
            else:
                take, buf = buf[:_ZSTD_SLICE], buf[_ZSTD_SLICE:]
            out = self.d.decompress(take)
            if out:
                yield out
            if self.d.eof and self.d.unused_data:
                buf = memoryview(self.d.unused_data + buf.tobytes())

    def finish(self) -> None:
        super().finish()
        if self.d is None or not self.d.eof:
            raise DecompressionError("truncated zstd data")


def _decoder(encoding: str, key: str, memlimit: int) -> _Decoder:
    if encoding == "gzip":
        return _GzipDecoder()
    if encoding == "br":
        return _BrotliDecoder()
    if encoding == "zstd":
        return _ZstdDecoder()
    if encoding == "xz":
        return _XzDecoder(memlimit)
    if encoding == "bzip2":
        return _Bz2Decoder()
    raise unsupported_error(encoding, key)


def unsupported_error(encoding: str, key: str = "") -> UnsupportedCompressionType:
    """The error for decoding an encoding cloudfiles does not know, naming key and encoding."""
    where = f"{key!r} is stored with" if key else "content has"
    return UnsupportedCompressionType(
        f"{where} Content-Encoding {encoding!r}, which cloudfiles cannot decode "
        f"(it decodes {', '.join(ENCODINGS)}); read it with raw=True or copy it as-is"
    )


def _codec_error(enc: str, key: str, err: BaseException) -> DecompressionError:
    where = f" for {key!r}" if key else ""
    msg = str(err)
    if "incorrect length check" in msg:
        msg += " (the ISIZE trailer does not match the decoded length mod 2**32)"
    elif "incorrect data check" in msg:
        msg += " (CRC-32 mismatch)"
    return DecompressionError(f"invalid {enc} data{where}: {msg}")


def decode_chunks(chunks: Iterable[bytes], encoding: Encoding, key: str = "",
                  max_decompressed_size: Union[int, str, None] = None,
                  piece: int = PIECE) -> Iterator[bytes]:
    """Decode a stream of stored chunks, yielding pieces of about ``piece`` bytes.

    The bound applies per chunk: the output attributed to one stored chunk
    may not exceed ``output_limit(len(chunk), max_decompressed_size)``, so
    objects of any size stream in bounded memory while a bomb fails fast.
    """
    enc = normalize_content_encoding(encoding)
    if enc is None:
        return iter(chunks)
    if enc not in ENCODINGS:
        raise unsupported_error(enc, key)
    return _decode(chunks, enc, key, configured_limit(max_decompressed_size), piece, True)


def _decode(chunks: Iterable[bytes], enc: str, key: str, absolute: Optional[int], piece: int,
            chunked: bool) -> Iterator[bytes]:
    budget = _Budget(key, enc, absolute, chunked)
    dec = _decoder(enc, key, max(128 * MiB, absolute or DEFAULT_FLOOR))
    room = lambda: budget.room(piece)  # noqa: E731
    for chunk in chunks:  # errors of the source itself (network, integrity) pass through as they are
        if not len(chunk):
            continue
        budget.start(len(chunk))
        with _codec_errors(enc, key):
            for out in dec.pump(chunk, room):
                budget.take(len(out))
                yield out
    with _codec_errors(enc, key):
        dec.finish()


@contextlib.contextmanager
def _codec_errors(enc: str, key: str) -> Iterator[None]:
    """Turn each codec's own exception types into one DecompressionError naming the key."""
    try:
        yield
    except (DecompressionBombError, UnsupportedCompressionType):
        raise
    except DecompressionError as err:
        raise DecompressionError(f"{err} for {key!r}" if key else str(err)) from err
    except Exception as err:  # zlib.error, lzma.LZMAError, OSError, brotli.error, zstandard.ZstdError, ...
        raise _codec_error(enc, key, err) from err


def _gzip_fast(data, limit: int) -> Optional[bytes]:
    """libdeflate for the common case, only when it is provably right: one
    member (no second gzip magic anywhere), a non-zero ISIZE within the limit
    (its output buffer), and libdeflate's own CRC-32 and exact-length checks.
    Anything else returns None and goes through zlib, which reports errors."""
    n = len(data)
    if n < 18 or data[0] != 0x1F or data[1] != 0x8B:
        return None
    isize = int.from_bytes(data[-4:], "little")
    if not 0 < isize <= limit or bytes(data).find(b"\x1f\x8b\x08", 10) != -1:
        return None
    try:
        import deflate
    except ImportError:
        return None
    try:
        out = deflate.gzip_decompress(data)
    except deflate.DeflateError:
        return None
    if len(out) != isize:
        return None
    return bytes(out)


def decompress(content: bytes, encoding: Encoding, filename: str = "N/A",
               max_decompressed_size: Union[int, str, None] = None) -> bytes:
    """Decode ``content`` stored with ``encoding`` (as cloud-files' ``decompress``).

    ``filename`` names the object in errors. The output is bounded by
    :func:`output_limit` of ``len(content)``: past it
    :class:`DecompressionBombError`. Corrupt, truncated or empty encoded
    content raises :class:`DecompressionError`; an encoding cloudfiles
    cannot decode raises :class:`UnsupportedCompressionType` (a ValueError).
    """
    key = "" if filename in (None, "N/A") else str(filename)
    enc = normalize_content_encoding(encoding) if isinstance(encoding, str) else normalize_encoding(encoding)
    if enc is None:
        return content
    if enc not in ENCODINGS:
        raise unsupported_error(enc, key)
    limit = output_limit(len(content), max_decompressed_size)
    if enc == "gzip":
        out = _gzip_fast(content, limit)
        if out is not None:
            return out
    parts = list(_decode([content], enc, key, limit, limit + 1, False))
    return parts[0] if len(parts) == 1 else b"".join(parts)


# ------------------------------------------------------------- encoding
def _zlib_gzip(data: bytes, level: int) -> bytes:
    co = zlib.compressobj(level, zlib.DEFLATED, 31)
    return co.compress(data) + co.flush()


def _gzip_compress(data: bytes, level: int) -> bytes:
    try:
        import deflate
    except ImportError:
        return _zlib_gzip(data, min(level, 9))
    return bytes(deflate.gzip_compress(data, max(level, 1))) if level else _zlib_gzip(data, 0)


def compress(content: bytes, method: Union[str, bool, None] = "gzip",
             compress_level: Optional[int] = None) -> bytes:
    """Encode ``content`` with ``method`` (a name, alias, ``True`` = gzip, or
    ``None``/``""``/``False`` = unchanged) at ``compress_level`` (``None``:
    the encoding's default, see ``DEFAULT_LEVELS``)."""
    encoding = normalize_encoding(method)
    if encoding is None:
        return content
    level = check_level(encoding, compress_level)
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


# Per-codec helpers with the reference's names and defaults.
def gzip_compress(content: bytes, compresslevel: Optional[int] = None) -> bytes:
    """gzip ``content`` (default level 9, as the reference)."""
    return compress(content, "gzip", 9 if compresslevel is None else compresslevel)


def gunzip(content: bytes) -> bytes:
    """Decode gzip ``content`` (every member, bounded; empty or non-gzip input raises)."""
    if len(content) >= 2 and (content[0], content[1]) != (0x1F, 0x8B):
        raise DecompressionError(
            f"content is not in gzip format: magic numbers {content[0]:#x}, {content[1]:#x} are not 0x1f, 0x8b")
    return decompress(content, "gzip")


def brotli_compress(content: bytes, quality: Optional[int] = None) -> bytes:
    """Brotli-encode ``content`` (default quality 5)."""
    return compress(content, "br", quality)


def brotli_decompress(content: bytes) -> bytes:
    """Decode brotli ``content`` (bounded)."""
    return decompress(content, "br")


def zstd_compress(content: bytes, level: Optional[int] = None) -> bytes:
    """zstd-encode ``content`` (default level 3)."""
    return compress(content, "zstd", None if level is None else int(level))


def zstd_decompress(content: bytes) -> bytes:
    """Decode zstd ``content``: every frame, with or without a declared size (bounded)."""
    return decompress(content, "zstd")


def transcode(
    files: Any,
    encoding: Union[str, bool, None],
    level: Optional[int] = None,
    progress: bool = False,
    in_place: bool = False,
) -> Iterator[dict]:
    """Re-encode files into ``encoding``, as cloud-files' ``transcode``.

    ``files``: results of ``get`` (with ``raw=True`` they carry their stored
    encoding in ``compress``), dicts as ``puts`` accepts (``path``,
    ``content``, optional ``compress``/``raw``), ``(path, content)`` tuples
    (decoded content), or one of these alone. A generator of dicts with
    ``path``, ``content`` (encoded in ``encoding``), ``compress`` and
    ``raw=True``, ready for ``puts(..., raw=True)``. Raw content already in
    ``encoding`` passes through untouched; ``None`` content is passed on.
    ``in_place`` updates the given dicts instead of copies.
    """
    target = normalize_encoding(encoding)
    if isinstance(files, (dict, tuple)):
        files = [files]
    if progress:
        from tqdm import tqdm

        files = tqdm(files, desc="Transcoding")
    for f in files:
        if isinstance(f, tuple):
            if len(f) != 2:
                raise InvalidInputError(f"transcode tuples are (path, content), got {len(f)} items")
            f = {"path": f[0], "content": f[1], "compress": None, "raw": False}
        elif not isinstance(f, dict):
            raise InvalidInputError(
                f"transcode takes dicts or (path, content) tuples, got {type(f).__name__}")
        elif not in_place:
            f = copy.copy(f)
        content = f.get("content")
        if content is None:
            yield f
            continue
        path = f.get("path", "")
        if f.get("raw", False):
            current = stored_encoding(f.get("compress"), path)
            if current == target:
                f["compress"] = current
                yield f
                continue
            content = decompress(content, current, path)
        f["content"] = compress(content, target, level)
        f["compress"] = target
        f["raw"] = True
        yield f


class StreamCodec:
    """Incremental encoder with one shape for every encoding:
    ``process(chunk) -> bytes`` then ``flush() -> bytes``. (Decoding goes
    through :func:`decode_chunks`, which bounds its output.)"""

    def __init__(self, encoding: Encoding, level: Optional[int] = None, path: str = ""):
        self.encoding = normalize_encoding(encoding)
        self.path = path
        self._obj = None if self.encoding is None else self._make(check_level(self.encoding, level))

    def _make(self, level):
        enc = self.encoding
        if enc == "gzip":
            return zlib.compressobj(level, zlib.DEFLATED, 31)
        if enc == "br":
            import brotli

            return brotli.Compressor(quality=level)
        if enc == "zstd":
            import zstandard

            return zstandard.ZstdCompressor(level=level).compressobj()
        if enc == "xz":
            return lzma.LZMACompressor(preset=level)
        return bz2.BZ2Compressor(level)

    def process(self, chunk: bytes) -> bytes:
        if self._obj is None:
            return chunk
        return self._obj.process(chunk) if self.encoding == "br" else self._obj.compress(chunk)

    def flush(self) -> bytes:
        if self._obj is None:
            return b""
        return self._obj.finish() if self.encoding == "br" else self._obj.flush()
