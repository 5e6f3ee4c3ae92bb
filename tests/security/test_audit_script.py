"""scripts/audit_dependencies.py (make test's pip-audit step): fails on a known vulnerability, warns in one line
when it could not audit (unless CERTIFAI_AUDIT_STRICT=1)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit_dependencies.py"


@pytest.fixture
def audit(monkeypatch):
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def with_report(stdout: str = "", stderr: str = "", returncode: int = 0, raises: Exception | None = None):
        def run(*args, **kwargs):
            if raises:
                raise raises
            return subprocess.CompletedProcess(args, returncode, stdout, stderr)

        monkeypatch.setattr(module.subprocess, "run", run)
        return module.main(["requirements.txt"])

    return with_report


def report(*dependencies) -> str:
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_a_known_vulnerability_fails(audit, capsys):
    vulnerable = {"name": "django", "version": "5.2.0", "vulns": [
        {"id": "PYSEC-2026-1", "aliases": ["CVE-2026-1"], "fix_versions": ["5.2.1"], "description": "..."}]}
    assert audit(report(vulnerable, {"name": "celery", "version": "5.7.0", "vulns": []}), returncode=1) == 1
    out = capsys.readouterr().out
    assert "django 5.2.0: PYSEC-2026-1 (CVE-2026-1); fixed in 5.2.1" in out
    assert "1 of 2 dependencies have known vulnerabilities" in out


def test_clean(audit, capsys):
    assert audit(report({"name": "django", "version": "5.2.19", "vulns": []})) == 0
    assert capsys.readouterr().out == "pip-audit: 1 dependencies audited, no known vulnerability\n"


@pytest.mark.parametrize("kwargs", [
    {"stdout": "", "stderr": "requests.exceptions.ConnectionError: Max retries exceeded\n", "returncode": 1},
    {"raises": subprocess.TimeoutExpired("pip-audit", 600)},
    {"stdout": report({"name": "django", "skip_reason": "Dependency not found on PyPI"})},
])
def test_not_audited_warns_in_one_line_and_passes_unless_strict(audit, capsys, monkeypatch, kwargs):
    assert audit(**kwargs) == 0
    out = capsys.readouterr().out
    assert out.startswith("pip-audit: WARNING: ") and out.count("\n") == 1
    monkeypatch.setenv("CERTIFAI_AUDIT_STRICT", "1")
    assert audit(**kwargs) == 1
