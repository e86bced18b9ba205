import gzip
import os
import zlib

import pytest

from cloudfiles import compression
from cloudfiles.exceptions import DecompressionError, InvalidInputError, UnsupportedCompressionType

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


# ------------------------------------------------------------ gzip length (issue 9)
def _with_trailer(gz: bytes, crc: int | None = None, isize: int | None = None) -> bytes:
    body, old_crc, old_isize = gz[:-8], gz[-8:-4], gz[-4:]
    return (body + (old_crc if crc is None else crc.to_bytes(4, "little"))
            + (old_isize if isize is None else (isize & 0xFFFFFFFF).to_bytes(4, "little")))


@pytest.mark.parametrize("isize", [len(DATA) + 5, len(DATA) - 1, 1, 0xFFFFFFFF])
def test_gzip_trailer_length_that_lies_is_an_error(isize):
    bad = _with_trailer(gzip.compress(DATA), isize=isize)
    with pytest.raises(DecompressionError, match=r"'k'.*ISIZE trailer does not match"):
        compression.decompress(bad, "gzip", "k")


def test_gzip_wrapped_isize_is_not_the_output_length():
    """An 8 GiB object's trailer says 0 (ISIZE is the length mod 2**32); the
    old code took that as the length and returned b''. Simulated: 1 MiB of
    data whose trailer claims a length congruent to 0 / to 2**32 + 7."""
    data = os.urandom(1024) * 1024
    gz = gzip.compress(data)
    with pytest.raises(DecompressionError, match="ISIZE"):
        compression.decompress(_with_trailer(gz, isize=0), "gzip", "k")
    with pytest.raises(DecompressionError, match="ISIZE"):
        compression.decompress(_with_trailer(gz, isize=2**32 + 7), "gzip", "k")
    with pytest.raises(DecompressionError, match="ISIZE"):
        b"".join(compression.decode_chunks([_with_trailer(gz, isize=0)], "gzip", "k"))
    # the true length mod 2**32 is accepted, and the output is what the stream holds
    assert compression.decompress(_with_trailer(gz, isize=len(data) + 2**32), "gzip") == data


def test_gzip_crc_mismatch_is_an_error():
    gz = gzip.compress(DATA)
    bad = _with_trailer(gz, crc=zlib.crc32(DATA) ^ 1)
    with pytest.raises(DecompressionError, match="CRC"):
        compression.decompress(bad, "gzip", "k")
    with pytest.raises(DecompressionError, match="CRC"):
        list(compression.decode_chunks([bad[:100], bad[100:]], "gzip", "k"))


def test_gzip_trailing_garbage_and_empty_input_are_errors():
    with pytest.raises(DecompressionError, match="'k'"):
        compression.decompress(gzip.compress(b"x") + b"garbage!", "gzip", "k")
    for enc in compression.ENCODINGS:
        with pytest.raises(DecompressionError, match="empty"):
            compression.decompress(b"", enc, "k")


# ----------------------------------------------------- multi-frame / multi-stream
def test_zstd_every_frame_is_decoded():
    import zstandard

    sized = zstandard.ZstdCompressor().compress(b"hello ") + zstandard.ZstdCompressor().compress(b"world")
    assert compression.decompress(sized, "zstd") == b"hello world"  # the old code returned b"hello "
    co = zstandard.ZstdCompressor().compressobj()
    unsized = co.compress(DATA) + co.flush()
    assert compression.decompress(unsized + sized, "zstd") == DATA + b"hello world"
    chunks = [unsized[i:i + 999] for i in range(0, len(unsized), 999)]
    assert b"".join(compression.decode_chunks(chunks, "zstd", piece=1000)) == DATA


def test_zstd_frame_that_lies_about_its_size_is_an_error():
    import zstandard

    frame = bytearray(zstandard.ZstdCompressor(level=1).compress(bytes(8 * 1024 * 1024)))
    assert frame[4] == 0x80  # 4-byte content size after the window byte
    frame[6:10] = (1024).to_bytes(4, "little")
    with pytest.raises(DecompressionError, match="zstd"):
        compression.decompress(bytes(frame), "zstd", "k")


@pytest.mark.parametrize("enc", ["xz", "bzip2", "gzip"])
def test_concatenated_streams(enc):
    packed = compression.compress(b"first ", enc) + compression.compress(b"second", enc)
    assert compression.decompress(packed, enc) == b"first second"


@pytest.mark.parametrize("enc", compression.ENCODINGS)
def test_streamed_decode_matches_and_detects_truncation(enc):
    packed = compression.compress(DATA, enc)
    chunks = [packed[i:i + 777] for i in range(0, len(packed), 777)]
    assert b"".join(compression.decode_chunks(chunks, enc, "k", piece=4096)) == DATA
    with pytest.raises(DecompressionError, match="'k'"):
        b"".join(compression.decode_chunks(chunks[:-1], enc, "k"))


def test_source_errors_pass_through_unwrapped():
    from cloudfiles.exceptions import IntegrityError

    def parts():
        yield compression.compress(DATA, "gzip")[:50]
        raise IntegrityError("part 2 of 'k' is short")

    with pytest.raises(IntegrityError):
        list(compression.decode_chunks(parts(), "gzip", "k"))


# ------------------------------------------------------------- the bound (issue 9)
def test_default_limit_rule(monkeypatch):
    monkeypatch.delenv(compression.LIMIT_ENV, raising=False)
    assert compression.output_limit(0) == 256 * 1024 * 1024
    assert compression.output_limit(10 * 1024 * 1024) == 1000 * 1024 * 1024
    assert compression.output_limit(10, 5000) == 5000
    assert compression.output_limit(10, "2G") == 2 * 1024 ** 3
    monkeypatch.setenv(compression.LIMIT_ENV, "1MiB")
    assert compression.output_limit(10 * 1024 * 1024) == 1024 * 1024
    monkeypatch.setenv(compression.LIMIT_ENV, "lots")
    from cloudfiles.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError, match=compression.LIMIT_ENV):
        compression.output_limit(1)
    for bad in (0, -1, "1.5G", True, 2.0):
        with pytest.raises(InvalidInputError, match="max_decompressed_size"):
            compression.parse_size(bad)


@pytest.mark.parametrize("enc", compression.ENCODINGS)
def test_bomb_error_names_key_stored_size_and_limit(enc):
    from cloudfiles.exceptions import DecompressionBombError

    packed = compression.compress(bytes(100_000), enc)
    with pytest.raises(DecompressionBombError) as info:
        compression.decompress(packed, enc, "dir/obj", max_decompressed_size=99_999)
    err = info.value
    assert isinstance(err, DecompressionError) and isinstance(err, ValueError)
    assert (err.key, err.stored_size, err.limit, err.encoding) == ("dir/obj", len(packed), 99_999, enc)
    assert "'dir/obj'" in str(err) and f"{len(packed):,}" in str(err) and "99,999" in str(err)
    assert compression.decompress(packed, enc, "dir/obj", max_decompressed_size=100_000) == bytes(100_000)
    # streams: the bound is per stored chunk, so many chunks of a big object pass
    big = compression.compress(bytes(300_000), enc)
    out = b"".join(compression.decode_chunks([big], enc, "k", max_decompressed_size=300_000, piece=4096))
    assert out == bytes(300_000)
    with pytest.raises(DecompressionBombError, match="a chunk of 'k'"):
        list(compression.decode_chunks([big], enc, "k", max_decompressed_size=100_000))


def test_cloudfiles_limit_option_and_per_call(monkeypatch):
    from cloudfiles import CloudFiles
    from cloudfiles.exceptions import DecompressionBombError

    monkeypatch.delenv(compression.LIMIT_ENV, raising=False)
    url = f"mem://bombs-{os.getpid()}/x"
    CloudFiles(url).put("z", bytes(50_000), compress="gzip")
    small = CloudFiles(url, max_decompressed_size=10_000)
    with pytest.raises(DecompressionBombError, match="'z'"):
        small.get("z")
    assert small.get("z", max_decompressed_size=50_000) == bytes(50_000)
    res = small.get(["z"])
    assert isinstance(res[0]["error"], DecompressionBombError) and res[0]["content"] is None
    assert len(small.get("z", raw=True)) < 10_000  # raw reads are never decoded
    with pytest.raises(DecompressionBombError):
        small.get({"path": "z", "start": 0, "end": 10})  # ranges of encoded objects decode the whole
    with pytest.raises(DecompressionBombError, match="a chunk of 'z'"):
        b"".join(small.stream("z"))
    monkeypatch.setenv(compression.LIMIT_ENV, "10000")
    with pytest.raises(DecompressionBombError):
        CloudFiles(url).get("z")
    assert CloudFiles(url, max_decompressed_size=60_000).get("z") == bytes(50_000)  # the argument wins


# ------------------------------------------------- cloud-files 6.4.3 surface (issue 10)
_DUMP = r'''
import inspect, json, sys, types, importlib
out = {}
for modname in sys.argv[1:]:
    mod = importlib.import_module(modname)
    names = {}
    for name, obj in vars(mod).items():
        if name.startswith("_") or isinstance(obj, types.ModuleType):
            continue
        if inspect.isfunction(obj) and obj.__module__ == modname:
            sig = inspect.signature(obj)
            names[name] = ["function", [[p.name, str(p.kind), repr(p.default)] for p in sig.parameters.values()]]
        elif isinstance(obj, (str, int, float, tuple, list, type(None))) and not callable(obj):
            names[name] = ["value", repr(obj)]
    out[modname] = names
print(json.dumps(out))
'''
SURFACE_MODULES = ("cloudfiles.compression",)
# Constants of cloudfiles.interfaces that client code reads (the rest of that
# module is the reference's storage drivers, which live in cloudfiles.backends).
INTERFACE_CONSTANTS = ("COMPRESSION_EXTENSIONS", "GZIP_TYPES", "EXT_TEST_SEQUENCE", "COMPRESSION_TYPES")


def _reference_python() -> str:
    import sys as _sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    _sys.path.insert(0, os.path.join(repo, "benchmarks"))
    try:
        import common
    finally:
        _sys.path.pop(0)
    try:
        return common.ensure_reference_python()
    except common.BenchmarkError as err:
        pytest.skip(f"reference cloud-files not installable here: {err}")


def _dump(python: str, modules, pythonpath: str | None = None) -> dict:
    import json
    import subprocess
    import sys as _sys
    import tempfile

    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    proc = subprocess.run([python, "-c", _DUMP, *modules], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tempfile.gettempdir())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.mark.timeout(600)
def test_public_surface_matches_reference():
    """Every public function and constant of the reference's cloudfiles.compression
    exists here; each function accepts the reference's parameters (same names,
    kinds, order and defaults; ours may add optional ones after them)."""
    import sys as _sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ref = _dump(_reference_python(), SURFACE_MODULES + ("cloudfiles.interfaces",))
    ours = _dump(_sys.executable, SURFACE_MODULES + ("cloudfiles.interfaces",), repo)
    problems = []
    for mod in SURFACE_MODULES:
        for name, (kind, detail) in ref[mod].items():
            mine = ours[mod].get(name)
            if mine is None:
                problems.append(f"{mod}.{name} missing")
            elif kind == "value":
                if mine != [kind, detail]:
                    problems.append(f"{mod}.{name} = {mine[1]}, reference {detail}")
            else:
                theirs_params, my_params = detail, mine[1]
                if my_params[: len(theirs_params)] != theirs_params or any(
                        p[2] == repr(inspect_empty()) for p in my_params[len(theirs_params):]):
                    problems.append(f"{mod}.{name}{my_params} vs reference {theirs_params}")
    for name in INTERFACE_CONSTANTS:
        if ours["cloudfiles.interfaces"].get(name) != ref["cloudfiles.interfaces"].get(name):
            problems.append(f"cloudfiles.interfaces.{name}: {ours['cloudfiles.interfaces'].get(name)} "
                            f"vs reference {ref['cloudfiles.interfaces'].get(name)}")
    assert not problems, "\n".join(problems)


def inspect_empty():
    import inspect

    return inspect.Parameter.empty


def test_reference_call_shapes():
    """The calls client libraries make, with the reference's meaning."""
    from cloudfiles import interfaces

    for method in compression.COMPRESSION_TYPES:
        packed = compression.compress(DATA, method=method, compress_level=None)
        enc = compression.normalize_encoding(method)
        assert compression.decompress(packed, enc, filename="f") == DATA
    assert compression.compress(DATA) [:2] == b"\x1f\x8b"  # method defaults to gzip
    assert compression.gunzip(compression.gzip_compress(DATA, compresslevel=1)) == DATA
    assert compression.brotli_decompress(compression.brotli_compress(DATA, quality=1)) == DATA
    assert compression.zstd_decompress(compression.zstd_compress(DATA, level=1)) == DATA
    with pytest.raises(DecompressionError, match="gzip format"):
        compression.gunzip(b"plain text")
    with pytest.raises(ValueError):  # the reference raises ValueError for unknown codecs
        compression.decompress(b"x", "lz4")
    with pytest.raises(ValueError):
        compression.compress(b"x", "lz4")
    # transcode: (path, content) tuples and puts-style dicts are decoded content
    out = list(compression.transcode([("a", b"hello"), {"path": "b", "content": b"world"}], "br"))
    assert [o["path"] for o in out] == ["a", "b"]
    assert all(o["raw"] and o["compress"] == "br" for o in out)
    assert compression.decompress(out[1]["content"], "br") == b"world"
    one = list(compression.transcode(("c", b"x"), None))
    assert one == [{"path": "c", "content": b"x", "compress": None, "raw": True}]
    with pytest.raises(InvalidInputError, match="transcode"):
        list(compression.transcode([b"bytes"], "gzip"))
    assert interfaces.COMPRESSION_EXTENSIONS == (".gz", ".br", ".zstd", ".bz2", ".xz")
