"""Scan uploads: the size limit (web, API), gzip-compressed scans with a bound on what they decompress to (web, API,
command line), and the importers' nesting and string limits seen through the API. A rejected file is a 400 that says
what to fix, the scan is failed with that message, and no finding is written or changed."""

from __future__ import annotations

import gzip
import io
import json
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.management import CommandError, call_command
from django.urls import reverse

from findings import services, uploads
from findings.models import Finding, Scan

from .conftest import sarif, sarif_bytes

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


def upload(api_client, repository, data: bytes, name: str = "results.sarif"):
    file = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    return api_client.post(f"/api/v1/repositories/{repository.pk}/scans/", {"file": file}, format="multipart")


def findings_of(repository) -> list[tuple]:
    return list(Finding.objects.filter(repository=repository).order_by("pk").values_list(
        "pk", "fingerprint", "status", "last_scan_id", "resolved_at"))


@pytest.fixture
def imported(api_client, repository):
    """The repository with the findings of a good scan, which no rejected file may change."""
    response = upload(api_client, repository, sarif_bytes(3))
    assert response.status_code == 201, response.content
    before = findings_of(repository)
    assert len(before) == 3
    return before


def gzip_bomb(decompressed: int, member: int = MiB) -> bytes:
    """gzip members of zeros, concatenated: ~1 KB per MiB (a valid multi-member gzip file)."""
    one = gzip.compress(b"\0" * member, compresslevel=9)
    return one * (decompressed // member)


def assert_rejected(response, repository, before, *phrases):
    assert response.status_code == 400, response.content
    body = response.json()
    message = body["detail"]
    assert "\n" not in message
    for phrase in phrases:
        assert phrase in message, message
    assert findings_of(repository) == before
    scan = Scan.objects.get(pk=body["scan"]["id"])
    assert scan.status == Scan.Status.FAILED and scan.error and scan.error in message
    return message


# --- gzip ----------------------------------------------------------------------------------------------------------
def test_gzip_is_told_by_its_magic_bytes_not_its_name(api_client, repository):
    response = upload(api_client, repository, gzip.compress(sarif_bytes(2)), name="results.sarif")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "completed" and response.json()["counts"]["new"] == 2
    # and a plain file called .gz is read as it is
    response = upload(api_client, repository, sarif_bytes(3), name="results.sarif.gz")
    assert response.status_code == 201, response.content
    assert Finding.objects.filter(repository=repository).count() == 3


def test_gzip_bomb_stops_at_the_decompressed_limit(api_client, repository, imported, settings, tmp_path, monkeypatch):
    settings.CERTIFAI_MAX_DECOMPRESSED_SIZE = 4 * MiB
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    produced = []
    real_read = uploads._read
    monkeypatch.setattr(uploads, "_read", lambda f: produced.append(len(chunk := real_read(f))) or chunk)
    bomb = gzip_bomb(2048 * MiB)  # 2 GiB of zeros in ~2 MB
    assert len(bomb) < 4 * MiB

    response = upload(api_client, repository, bomb)

    message = assert_rejected(response, repository, imported, "results.sarif: ",
                              f"decompresses to more than {4 * MiB} bytes", "CERTIFAI_MAX_DECOMPRESSED_SIZE")
    assert "split the scan" in message
    assert sum(produced) <= 4 * MiB + uploads.CHUNK_SIZE  # it stopped there, far from 2 GiB
    assert list(tmp_path.iterdir()) == []  # and the partial output is gone


@pytest.mark.parametrize(("damage", "phrase"), [
    (lambda data: data[: len(data) // 2], "truncated"),
    (lambda data: data[:10] + b"\xff" * 40 + data[50:], "corrupt"),
    (lambda data: data[:-8] + b"\0\0\0\0" + data[-4:], "corrupt"),  # CRC of the content wrong
    (lambda data: data + b"not gzip", "corrupt"),
])
def test_broken_gzip_is_a_clear_400(api_client, repository, imported, damage, phrase):
    data = damage(gzip.compress(sarif_bytes(2)))
    message = assert_rejected(upload(api_client, repository, data), repository, imported, phrase)
    assert "gzip" in message


def test_gzip_through_the_web_form(web, repository, settings):
    url = reverse("repository-detail", args=[repository.pk])
    good = SimpleUploadedFile("scan.sarif", gzip.compress(sarif_bytes(2)))
    response = web.post(url, {"file": good, "format": "auto"})
    assert response.status_code == 302
    assert Finding.objects.filter(repository=repository).count() == 2

    settings.CERTIFAI_MAX_DECOMPRESSED_SIZE = MiB
    response = web.post(url, {"file": SimpleUploadedFile("bomb.sarif", gzip_bomb(64 * MiB)), "format": "auto"})
    assert response.status_code == 200
    assert "decompresses to more than 1048576 bytes" in response.content.decode()
    assert Scan.objects.filter(repository=repository, status="failed").count() == 1
    assert Finding.objects.filter(repository=repository).count() == 2


def test_gzip_from_the_command_line(repository, tmp_path, settings):
    good = tmp_path / "scan.sarif.gz"
    good.write_bytes(gzip.compress(sarif_bytes(2)))
    out = io.StringIO()
    call_command("import_scan", repository.name, str(good), stdout=out)
    assert "new 2" in out.getvalue()

    settings.CERTIFAI_MAX_DECOMPRESSED_SIZE = MiB
    bomb = tmp_path / "bomb.sarif"
    bomb.write_bytes(gzip_bomb(64 * MiB))
    with pytest.raises(CommandError) as excinfo:
        call_command("import_scan", repository.name, str(bomb))
    assert "CERTIFAI_MAX_DECOMPRESSED_SIZE" in str(excinfo.value) and "\n" not in str(excinfo.value)
    assert Finding.objects.filter(repository=repository).count() == 2


def test_plain_scan_file_leaves_plain_files_alone(tmp_path):
    path = tmp_path / "scan.json"
    path.write_bytes(b"\x1f")  # one byte: not gzip
    with uploads.plain_scan_file(path) as plain:
        assert plain == path
    path.write_bytes(zlib.compress(b"{}"))  # zlib, not gzip: left to the importer to reject
    with uploads.plain_scan_file(path) as plain:
        assert plain == path


# --- upload size ---------------------------------------------------------------------------------------------------
def test_oversized_api_upload_is_dropped_on_the_way_in(api_client, repository, imported, settings, tmp_path,
                                                        monkeypatch):
    settings.CERTIFAI_MAX_UPLOAD_SIZE = 200 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # to disk, as big uploads go
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    written = []
    real = TemporaryFileUploadHandler.receive_data_chunk
    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk",
                        lambda self, data, start: written.append(len(data)) or real(self, data, start))
    scans = Scan.objects.count()

    response = upload(api_client, repository, b" " * (4 * MiB))

    assert response.status_code == 400
    message = response.json()["file"][0]
    assert "the limit is 204800 bytes (CERTIFAI_MAX_UPLOAD_SIZE)" in message and "gzip" in message
    assert sum(written) <= 200 * 1024  # nothing past the limit reached the disk
    assert list(tmp_path.iterdir()) == []
    assert Scan.objects.count() == scans and findings_of(repository) == imported


def test_oversized_web_upload_says_why(web, repository, settings):
    settings.CERTIFAI_MAX_UPLOAD_SIZE = 100
    response = web.post(reverse("repository-detail", args=[repository.pk]),
                        {"file": SimpleUploadedFile("big.sarif", b" " * 5000), "format": "auto"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "The file is too big: the limit is 100 bytes (CERTIFAI_MAX_UPLOAD_SIZE)" in html
    assert "This field is required" not in html
    assert not Scan.objects.exists()


def test_upload_at_the_limit_is_accepted(api_client, repository, settings):
    data = sarif_bytes(1)
    settings.CERTIFAI_MAX_UPLOAD_SIZE = len(data)
    assert upload(api_client, repository, data).status_code == 201


# --- the importers' limits, through the API --------------------------------------------------------------------------
def test_deep_nesting_is_a_clear_400(api_client, repository, imported):
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    document = sarif(1, properties={"deep": deep})
    message = assert_rejected(upload(api_client, repository, json.dumps(document).encode()), repository, imported,
                              "nesting deeper than 64 levels")
    assert message.startswith("results.sarif: runs[0].results[0].properties.deep.x.x")


def test_deep_nesting_of_brackets_is_a_clear_400(api_client, repository, imported):
    data = b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [' + b"[" * 100_000
    assert_rejected(upload(api_client, repository, data), repository, imported, "nesting deeper than 64 levels")


def test_huge_string_is_a_clear_400(api_client, repository, imported):
    document = sarif(1, message={"text": "A" * (MiB + 1)})
    assert_rejected(upload(api_client, repository, gzip.compress(json.dumps(document).encode())), repository,
                    imported, "runs[0].results[0].message.text: text longer than 1 MiB")


def test_huge_line_number_is_a_clear_400(api_client, repository, imported):
    document = sarif(1)
    document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 2**31
    assert_rejected(upload(api_client, repository, json.dumps(document).encode()), repository, imported,
                    "startLine: 2147483648 is larger than any line number")


def test_import_scan_service_rejects_a_bomb_before_parsing(repository, tmp_path, settings):
    settings.CERTIFAI_MAX_DECOMPRESSED_SIZE = MiB
    path = tmp_path / "bomb"
    path.write_bytes(gzip_bomb(16 * MiB))
    with pytest.raises(services.ScanImportError) as excinfo:
        services.import_scan(repository=repository, path=path)
    assert excinfo.value.scan.status == Scan.Status.FAILED
    assert "CERTIFAI_MAX_DECOMPRESSED_SIZE" in excinfo.value.scan.error
