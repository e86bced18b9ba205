import gzip
import os
import zlib

import pytest

from cloudfiles import compression
from cloudfiles.exceptions import DecompressionError, UnsupportedCompressionType

DATA = os.urandom(2000) + b"abc" * 5000


@pytest.mark.parametrize("enc", compression.ENCODINGS)
def test_roundtrip_all_levels(enc):
    lo, hi = compression._LEVEL_RANGES[enc]
    for level in {lo if enc != "gzip" else 1, compression.DEFAULT_LEVELS[enc], hi if enc not in ("br", "xz") else hi - 3}:
        packed = compression.compress(DATA, enc, level)
        assert compression.decompress(packed, enc) == DATA


def test_level_changes_output():
    fast = compression.compress(DATA, "zstd", 1)
    slow = compression.compress(DATA, "zstd", 19)
    assert len(slow) < len(fast)


@pytest.mark.parametrize("alias, canonical", [
    (True, "gzip"), ("gz", "gzip"), ("GZIP", "gzip"), ("brotli", "br"), ("zst", "zstd"),
    ("lzma", "xz"), ("bz2", "bzip2"), (None, None), (False, None), ("none", None), ("identity", None),
])
def test_normalize(alias, canonical):
    assert compression.normalize_encoding(alias) == canonical


@pytest.mark.parametrize("bad", ["lz4", "snappy", 3, b"gzip"])
def test_unknown_compression_is_named(bad):
    with pytest.raises(UnsupportedCompressionType, match=repr(bad).replace("(", r"\(")):
        compression.normalize_encoding(bad)


def test_bad_level():
    with pytest.raises(UnsupportedCompressionType, match="out of range"):
        compression.compress(b"x", "bzip2", 0)
    with pytest.raises(UnsupportedCompressionType, match="must be an int"):
        compression.compress(b"x", "gzip", "9")


def test_gzip_interop_and_multimember():
    assert compression.decompress(gzip.compress(DATA), "gzip") == DATA
    assert gzip.decompress(compression.compress(DATA, "gzip")) == DATA
    multi = gzip.compress(b"first ") + gzip.compress(b"second")
    assert compression.decompress(multi, "gzip") == b"first second"
    twice = gzip.compress(b"same") + gzip.compress(b"same")  # trailers alike: must still read both
    assert compression.decompress(twice, "gzip") == b"samesame"
    co = zlib.compressobj(6, zlib.DEFLATED, 31)
    assert compression.decompress(co.compress(b"") + co.flush(), "gzip") == b""


@pytest.mark.parametrize("enc", compression.ENCODINGS)
def test_corrupt_data_raises_decompression_error(enc):
    packed = compression.compress(DATA, enc)
    with pytest.raises(DecompressionError, match="for 'f'"):
        compression.decompress(packed[: len(packed) // 2], enc, "f")


def test_zstd_stream_without_content_size():
    import zstandard

    cctx = zstandard.ZstdCompressor()
    co = cctx.compressobj()
    packed = co.compress(DATA) + co.flush()
    assert compression.decompress(packed, "zstd") == DATA


def test_transcode_passthrough_and_reencode():
    gz = compression.compress(b"hello", "gzip")
    files = [
        {"path": "a", "content": gz, "compress": "gzip", "raw": True},
        {"path": "b", "content": b"plain", "compress": None, "raw": True},
        {"path": "c", "content": None, "compress": None, "raw": True},
    ]
    out = list(compression.transcode(files, "gzip"))
    assert out[0]["content"] is gz  # untouched, not recompressed
    assert compression.decompress(out[1]["content"], "gzip") == b"plain"
    assert out[2]["content"] is None
    br = list(compression.transcode(files, "br"))
    assert compression.decompress(br[0]["content"], "br") == b"hello" and br[0]["compress"] == "br"
    none = list(compression.transcode(files, None))
    assert none[0]["content"] == b"hello" and none[0]["compress"] is None
    assert files[0]["content"] is gz  # not modified unless in_place
    gen = compression.transcode(iter(files), "zstd", in_place=True)
    assert hasattr(gen, "__next__")
    list(gen)
    assert files[0]["compress"] == "zstd"
