import base64
import hashlib

import pytest

from cloudfiles import integrity
from cloudfiles.exceptions import CRC32CIntegrityError, IntegrityError, MD5IntegrityError

DATA = b"x" * (11 * 1024 * 1024)


def test_md5_and_crc32c_forms():
    assert integrity.md5_hex(b"abc") == hashlib.md5(b"abc").hexdigest()
    assert base64.b64decode(integrity.md5_base64(b"abc")) == hashlib.md5(b"abc").digest()
    # crc32c("123456789") = 0xE3069283 (the standard check value)
    assert integrity.crc32c_value(b"123456789") == 0xE3069283
    assert base64.b64decode(integrity.crc32c_base64(b"123456789")) == bytes.fromhex("e3069283")


def test_verify_md5_crc32c_size():
    integrity.verify(b"abc", integrity.Checksums(md5=integrity.md5_hex(b"abc"), size=3))
    with pytest.raises(MD5IntegrityError, match="for 'p'"):
        integrity.verify(b"abd", integrity.Checksums(md5=integrity.md5_hex(b"abc")), "p")
    with pytest.raises(CRC32CIntegrityError):
        integrity.verify(b"abd", integrity.Checksums(crc32c=integrity.crc32c_base64(b"abc")))
    with pytest.raises(IntegrityError, match="size mismatch"):
        integrity.verify(b"ab", integrity.Checksums(size=3))


def test_single_part_etag():
    etag = '"%s"' % hashlib.md5(b"abc").hexdigest()
    integrity.verify(b"abc", integrity.Checksums(etag=etag))
    with pytest.raises(MD5IntegrityError):
        integrity.verify(b"abx", integrity.Checksums(etag=etag))


def test_multipart_etag_rules():
    etag = integrity.multipart_etag(DATA, 8 * 1024 * 1024)
    assert etag.endswith("-2")
    integrity.verify(DATA, integrity.Checksums(etag=etag))
    tampered = DATA[:-1] + b"y"
    with pytest.raises(MD5IntegrityError, match="multipart"):
        integrity.verify(tampered, integrity.Checksums(etag=etag))
    # an unusual part size is found from the part count
    odd = integrity.multipart_etag(DATA, 6 * 1024 * 1024)
    integrity.verify(DATA, integrity.Checksums(etag=odd))


def test_unverifiable_etags_are_skipped_not_guessed():
    integrity.verify(b"abc", integrity.Checksums(etag="not-an-md5"))
    integrity.verify(b"abc", integrity.Checksums(etag="W/xyz"))
