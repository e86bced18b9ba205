"""The wire layer: HTTP mechanics shared by the HTTP-speaking backends (s3, gs, http).

Each rule lives in one module here and nowhere else: byte ranges and their
206 / ignored-range 200 / 416 answers (:mod:`.ranges`), what an ETag is
(:mod:`.etag`), how a backend's key root joins keys (:mod:`.keyroot`), object
metadata from a HEAD or an object resource (:mod:`.headers`), the fields a
failed request's error carries (:mod:`.errors`) and S3 ListObjectsV2 / GCS
objects.list pages as ObjectMeta (:mod:`.listing`). Modules import nothing heavy
at import time.
"""
