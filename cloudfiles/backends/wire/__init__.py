"""Wire rules shared by the HTTP-speaking backends (S3, GCS, HTTP).

Each module holds one rule, written once: :mod:`.listing` parses S3
ListObjectsV2 XML and GCS JSON listing pages into :class:`cloudfiles.meta.ObjectMeta`.
"""
