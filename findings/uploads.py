"""Limits on scan files, shared by every way in (web form, REST API, `manage.py import_scan`).

* Upload size: CERTIFAI_MAX_UPLOAD_SIZE bytes. :class:`SizeLimitUploadHandler` (first in FILE_UPLOAD_HANDLERS)
  counts the bytes of each uploaded file as they arrive and drops the file as soon as it passes the limit, so an
  oversized upload never fills the disk, whatever its Content-Length said; :func:`upload_rejection` then tells the
  view why the file is missing.
* gzip: a file starting with the gzip magic bytes (1f 8b; the name doesn't matter) is decompressed, streaming,
  to a temporary file (:func:`plain_scan_file`); once the output passes CERTIFAI_MAX_DECOMPRESSED_SIZE bytes it stops
  and the scan is rejected, so a gzip bomb costs at most that much disk, briefly.
* JSON nesting and string sizes are bounded by the importers (findings/importers/sarif.py).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
import zlib
from collections.abc import Iterator

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from .importers.base import ScanFormatError

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_SIZE = 1 << 20


def size_error(size: int | None) -> str:
    """The message for a file over the upload limit (`size` None: "more than the limit")."""
    limit = settings.CERTIFAI_MAX_UPLOAD_SIZE
    what = f"{size} bytes" if size is not None else "too big"
    return (
        f"The file is {what}: the limit is {limit} bytes (CERTIFAI_MAX_UPLOAD_SIZE). "
        "Compress it with gzip (accepted as is) or ask the administrator to raise the limit."
    )


def check_size(size: int) -> str:
    """'' if a file of `size` bytes may be uploaded, else what is wrong."""
    return size_error(size) if size > settings.CERTIFAI_MAX_UPLOAD_SIZE else ""


class SizeLimitUploadHandler(FileUploadHandler):
    """Drops an uploaded file the moment it passes CERTIFAI_MAX_UPLOAD_SIZE, before the next handler writes more of it
    to disk (the temporary file written so far is deleted), and notes why on the request."""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.CERTIFAI_MAX_UPLOAD_SIZE:
            self.request.certifai_upload_rejection = size_error(None)
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file


def upload_rejection(request) -> str:
    """Why an uploaded file of this request was dropped by SizeLimitUploadHandler ('' if none was).
    Read it after the request's files were parsed (request.FILES, or DRF's request.data)."""
    return getattr(request, "certifai_upload_rejection", "")


def is_gzip(path: str | os.PathLike) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


@contextlib.contextmanager
def plain_scan_file(path: str | os.PathLike) -> Iterator[str | os.PathLike]:
    """The scan file itself, or, if it is gzip-compressed, a temporary decompressed copy (deleted afterwards).

    Raises ScanFormatError with a one-line message for corrupt or truncated gzip data and for output past
    CERTIFAI_MAX_DECOMPRESSED_SIZE; OSError (e.g. a full disk) propagates.
    """
    if not is_gzip(path):
        yield path
        return
    limit = settings.CERTIFAI_MAX_DECOMPRESSED_SIZE
    fd, temp_path = tempfile.mkstemp(prefix="certifai-scan-", suffix=".json", dir=settings.FILE_UPLOAD_TEMP_DIR)
    try:
        with os.fdopen(fd, "wb") as out, gzip.open(path, "rb") as compressed:
            written = 0
            while chunk := _read(compressed):
                written += len(chunk)
                if written > limit:
                    raise ScanFormatError(
                        f"the gzip-compressed file decompresses to more than {limit} bytes, the limit "
                        "(CERTIFAI_MAX_DECOMPRESSED_SIZE): split the scan or ask the administrator to raise the limit"
                    )
                out.write(chunk)
        yield temp_path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_path)


def _read(compressed: gzip.GzipFile) -> bytes:
    try:
        return compressed.read(CHUNK_SIZE)
    except EOFError:
        raise ScanFormatError(
            "the gzip-compressed file is truncated (it ends before the end of the compressed data): upload it again"
        ) from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        reason = " ".join(str(exc).split()) or "corrupt data"
        raise ScanFormatError(f"the gzip-compressed file is corrupt ({reason}): compress it again") from None

