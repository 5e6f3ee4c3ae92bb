import pytest
from django.core.management import CommandError, call_command

from findings.models import Finding
from tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db


def test_import_prints_counts(data_dir, capsys):
    repo = RepositoryFactory(name="acme/vulpy")
    call_command("import_scan", "acme/vulpy", str(data_dir / "bandit/vulpy__scan1-baseline.bandit.json"))
    call_command("import_scan", str(repo.pk), str(data_dir / "bandit/vulpy__scan2-after-edit.bandit.json"))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].endswith("new 49, unchanged 0, reopened 0, resolved 0")
    assert lines[1].endswith("new 2, unchanged 47, reopened 0, resolved 2")


def test_bad_file_fails_with_one_line_reason(data_dir):
    RepositoryFactory(name="acme/vulpy")
    path = data_dir / "sarif-invalid/missing-runs__from-dockle-0.3.15.sarif"
    with pytest.raises(CommandError) as caught:
        call_command("import_scan", "acme/vulpy", str(path))
    assert "runs" in str(caught.value) and "\n" not in str(caught.value)
    assert not Finding.objects.exists()


def test_unknown_repository(data_dir):
    with pytest.raises(CommandError, match="no repository named 'nope'"):
        call_command("import_scan", "nope", str(data_dir / "bandit/vulpy__scan1-baseline.bandit.json"))


def test_missing_file():
    RepositoryFactory(name="acme/vulpy")
    with pytest.raises(CommandError, match="can't read the file"):
        call_command("import_scan", "acme/vulpy", "/nonexistent/scan.sarif")
