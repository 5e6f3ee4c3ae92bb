"""Scan import: the finding lifecycle across scans, in one transaction, in bulk."""

import pytest

from findings import services
from findings.models import Finding, FindingChange, Scan
from findings.signals import scan_completed
from tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db

BANDIT1 = "bandit/vulpy__scan1-baseline.bandit.json"
BANDIT2 = "bandit/vulpy__scan2-after-edit.bandit.json"


@pytest.fixture(params=["copy", "orm"])
def each_writer(request, monkeypatch):
    """Run a test with the PostgreSQL COPY writer and with the ORM writer (SQLite's, `make run`)."""
    from findings import bulk

    if request.param == "orm":
        monkeypatch.setattr(bulk, "writer_for", lambda scan, now: bulk.OrmWriter(scan, now))
    return request.param


def _import(repo, data_dir, name, **kwargs):
    return services.import_scan(repository=repo, path=data_dir / name, **kwargs)


def _state(repo):
    return {f.fingerprint: (f.status, f.last_scan_id, f.resolved_at) for f in Finding.objects.filter(repository=repo)}


@pytest.mark.usefixtures("each_writer")
def test_first_import_creates_one_finding_per_fingerprint(data_dir):
    repo = RepositoryFactory()
    scan = _import(repo, data_dir, BANDIT1)
    # 51 results, of which two pairs share path, line and rule (EXPECTED-CHANGES.json): 49 findings.
    assert scan.status == Scan.Status.COMPLETED
    assert scan.counts == {"results": 51, "new": 49, "unchanged": 0, "reappeared": 0, "resolved": 0, "total": 49}
    assert scan.tool == "bandit" and scan.format == "bandit"
    assert Finding.objects.filter(repository=repo, status="open").count() == 49
    assert not FindingChange.objects.exists()  # the first scan is on each finding: no history row per finding
    finding = Finding.objects.get(repository=repo, file_path="bad/libuser.py", start_line=53, rule_id="B608")
    assert finding.severity == "medium" and finding.first_scan == scan and finding.last_scan == scan
    assert "SQL" in finding.description


@pytest.mark.usefixtures("each_writer")
def test_same_scan_twice_gives_no_new_findings(data_dir):
    repo = RepositoryFactory()
    _import(repo, data_dir, BANDIT1)
    second = _import(repo, data_dir, BANDIT1)
    assert second.counts["new"] == 0 and second.counts["unchanged"] == 49 and second.counts["resolved"] == 0
    assert Finding.objects.filter(repository=repo).count() == 49
    assert not Finding.objects.filter(repository=repo).exclude(last_scan=second).exists()


@pytest.mark.usefixtures("each_writer")
def test_scan_pair_resolves_adds_and_reopens(data_dir):
    repo = RepositoryFactory()
    first = _import(repo, data_dir, BANDIT1)
    second = _import(repo, data_dir, BANDIT2)
    # EXPECTED-CHANGES.json: B608 at libuser.py:53 fixed; B201 moved 55 -> 60 (one resolved, one new);
    # B324 at libuser.py:64 new.
    assert (second.counts["new"], second.counts["resolved"], second.counts["reappeared"]) == (2, 2, 0)
    fixed = Finding.objects.get(repository=repo, rule_id="B608", file_path="bad/libuser.py", start_line=53)
    assert fixed.status == "resolved" and fixed.resolved_scan == second and fixed.resolved_at is not None
    moved_from = Finding.objects.get(repository=repo, rule_id="B201", file_path="bad/vulpy.py", start_line=55)
    assert moved_from.status == "resolved"
    added = Finding.objects.get(repository=repo, rule_id="B324", file_path="bad/libuser.py", start_line=64)
    assert added.status == "open" and added.first_scan == second

    third = _import(repo, data_dir, BANDIT1)
    assert (third.counts["new"], third.counts["reappeared"], third.counts["resolved"]) == (0, 2, 2)
    fixed.refresh_from_db()
    assert fixed.status == "open" and fixed.reappeared_scan == third and fixed.resolved_at is None
    assert fixed.first_scan == first  # the same finding, not a new one
    history = list(fixed.changes.order_by("id").values_list("scan_id", "kind"))
    assert history == [(second.id, "resolved"), (third.id, "reappeared")]
    # Only state changes are written: the two fixed-then-back findings, resolved by one scan, reopened by the next.
    assert FindingChange.objects.filter(scan=second, kind="resolved").count() == 2
    assert FindingChange.objects.filter(scan=third, kind="reappeared").count() == 2
    assert FindingChange.objects.filter(scan=third, kind="resolved").count() == 2


def test_other_tools_findings_are_not_resolved(data_dir):
    repo = RepositoryFactory()
    _import(repo, data_dir, BANDIT1)
    semgrep = _import(repo, data_dir, "semgrep/vulpy__scan1-baseline.semgrep.json")
    assert semgrep.counts["resolved"] == 0
    assert Finding.objects.filter(repository=repo, tool="bandit", status="open").count() == 49


def test_empty_scan_of_a_tool_resolves_its_findings(data_dir):
    repo = RepositoryFactory()
    _import(repo, data_dir, BANDIT1)
    empty = _import(repo, data_dir, "bandit/defectdojo-fixture__bandit-2020-zero-results__no_vuln.json")
    assert empty.counts["resolved"] == 49
    assert not Finding.objects.filter(repository=repo, status="open").exists()


INVALID = [
    "sarif-invalid/huge-message-text-6MiB__from-eslint-nodegoat.sarif",
    "sarif-invalid/missing-runs__from-dockle-0.3.15.sarif",
    "sarif-invalid/real-checkov-testdata__run-without-tool.sarif",
    "sarif-invalid/results-is-object-not-array__from-detekt.sarif",
    "sarif-invalid/truncated-at-60pct__from-trivy-alpine-310.sarif",
    "sarif-invalid/wrong-version-1.0.0__from-gitleaks-7.4.0.sarif",
]


@pytest.mark.parametrize("name", INVALID)
@pytest.mark.usefixtures("each_writer")
def test_invalid_file_is_rejected_and_changes_nothing(data_dir, name):
    repo = RepositoryFactory()
    # Findings of the same tools as the broken files, so a partial import would show.
    for valid in [
        "sarif/trivy-golden__alpine-310-image.sarif",
        "sarif/eslint-8.57.1__nodegoat-absolute-file-uri-with-space.sarif",
        "sarif/detekt__vanilla.sarif.json",
        "sarif/gitleaks-7.4.0__results-without-ruleId.sarif",
    ]:
        _import(repo, data_dir, valid)
    before = _state(repo)
    changes = FindingChange.objects.count()
    with pytest.raises(services.ScanImportError) as caught:
        _import(repo, data_dir, name)
    message = str(caught.value)
    assert message and "Traceback" not in message
    assert _state(repo) == before
    assert FindingChange.objects.count() == changes
    failed = caught.value.scan
    failed.refresh_from_db()
    assert failed.status == Scan.Status.FAILED and failed.error == message


def test_completion_is_announced_after_commit_only(data_dir, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, scan, **kwargs):
        received.append(scan.pk)

    scan_completed.connect(receiver)
    try:
        repo = RepositoryFactory()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            scan = _import(repo, data_dir, BANDIT1)
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
        assert received == [scan.pk]
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(services.ScanImportError):
            _import(repo, data_dir, INVALID[1])
        assert received == [scan.pk]
    finally:
        scan_completed.disconnect(receiver)


def test_unknown_format_is_refused(data_dir):
    repo = RepositoryFactory()
    with pytest.raises(services.ScanImportError, match="unknown format 'xml'"):
        _import(repo, data_dir, BANDIT1, format="xml")
    assert not Scan.objects.exists()


def test_import_statements_grow_with_batches_not_findings(data_dir, django_assert_max_num_queries, monkeypatch):
    repo = RepositoryFactory()
    monkeypatch.setattr(services, "BATCH_SIZE", 10)  # 49 findings: 5 batches
    with django_assert_max_num_queries(5 * 6 + 12):
        _import(repo, data_dir, BANDIT1)


@pytest.mark.usefixtures("each_writer")
def test_results_sharing_a_fingerprint_lose_nothing(data_dir):
    """Trivy reports CVE-2019-1549 for libcrypto1.1 and libssl1.1 at the same place: one finding (the
    fingerprint is path, line and rule), whose description names both packages; a re-import keeps it so."""
    repo = RepositoryFactory()
    scan = _import(repo, data_dir, "sarif/trivy-golden__alpine-310-image.sarif")
    assert scan.counts["results"] == 4 and scan.counts["total"] == 2
    finding = Finding.objects.get(repository=repo, rule_id="CVE-2019-1549")
    assert "libcrypto1.1" in finding.description and "libssl1.1" in finding.description
    _import(repo, data_dir, "sarif/trivy-golden__alpine-310-image.sarif")
    again = Finding.objects.get(repository=repo, rule_id="CVE-2019-1549").description
    assert again == finding.description and again.count("libssl1.1") == 1


ALL_FILES = [
    ("sarif/checkov-3.3.30__terragoat-aws.sarif", 215),
    ("sarif/codeql-2.5.4__codeQL-output.sarif", 72),
    ("sarif/codeql-action-testdata__lgtm-and-codeql-two-runs.sarif", 2),  # both runs report one result
    ("sarif/cppcheck-2.17.1__many.sarif", 7),
    ("sarif/dependency-check-6.1.2__absolute-file-uri-no-region.sarif", 13),
    ("sarif/detekt__vanilla.sarif.json", 3),
    ("sarif/devskim-1.0.90__many.sarif", 7),
    ("sarif/dockle-0.3.15__results-without-locations.sarif", 4),
    ("sarif/eslint-8.57.1__nodegoat-absolute-file-uri-with-space.sarif", 34),  # 44 results, same rule and line
    ("sarif/flawfinder-2.0.19__kind-pass-and-fail.sarif", 53),  # one kind: pass
    ("sarif/fortify-fpr-converted__ruleIndex-only-no-ruleId.sarif", 3),
    ("sarif/gitleaks-7.4.0__results-without-ruleId.sarif", 4),  # 8 results: each secret in two commits
    ("sarif/grype-0.34.7__cxf-3.4.6.sarif", 22),
    ("sarif/heimdall-hdf-converted__security-severity.sarif", 13),  # 166 results of 13 controls, no file
    ("sarif/sarif-sdk-cwe-sample__ghas-shaped-security-severity.sarif", 7),
    ("sarif/sarif-sdk__levels-none-note-warning-error.sarif", 4),
    ("sarif/sarif-tutorials__baseline-states.sarif", 1),  # absent skipped, the rest share rule and no place
    ("sarif/sarif-tutorials__catastrophic-execution-error.sarif", 0),
    ("sarif/sarif-tutorials__empty-runs-array.sarif", 0),
    ("sarif/sarif-tutorials__original-uri-base-ids.sarif", 3),
    ("sarif/scorecard-testdata__percent-encoded-uri.sarif", 2),
    ("sarif/semgrep-oss-1.69.0__issue-10191.json", 77),
    ("sarif/semgrep-oss-snapshot__nosemgrep-suppressions.sarif", 1),
    ("sarif/slscan-python__taint-baselineState-new.sarif", 10),
    ("sarif/snyk-code__issue-9270.json", 38),
    ("sarif/spotbugs-4.4.0__message-id-with-arguments.sarif", 56),
    ("sarif/trivy-golden__alpine-310-image.sarif", 2),
    ("bandit/defectdojo-fixture__bandit-2020-zero-results__no_vuln.json", 0),
    ("bandit/defectdojo-fixture__bandit-2021-no-col-offset__dd.json", 47),
    ("bandit/vulpy__scan1-baseline.bandit.json", 49),
    ("bandit/vulpy__scan1-baseline.bandit.sarif", 49),
    ("semgrep/defectdojo-fixture__semgrep-1.97.0__run1-line31.json", 1),
    ("semgrep/defectdojo-fixture__semgrep-empty-results.json", 0),
    ("semgrep/defectdojo-fixture__semgrep-old-no-version-field__many_vulns.json", 48),
    ("semgrep/vulpy__scan1-baseline.semgrep.json", 48),
    ("semgrep/vulpy__scan1-baseline.semgrep.sarif", 48),
]


@pytest.mark.parametrize(("name", "findings"), ALL_FILES)
def test_every_sample_file_imports(data_dir, name, findings):
    repo = RepositoryFactory()
    scan = _import(repo, data_dir, name)
    assert scan.status == Scan.Status.COMPLETED
    assert Finding.objects.filter(repository=repo).count() == scan.counts["new"] == findings


def test_incomplete_scan_resolves_nothing(data_dir, tmp_path):
    import json

    repo = RepositoryFactory()
    _import(repo, data_dir, "bandit/vulpy__scan1-baseline.bandit.sarif")
    # The same tool's log with half its results, and the run says it did not finish: absent findings are
    # not taken as fixed.
    log = json.loads((data_dir / "bandit/vulpy__scan1-baseline.bandit.sarif").read_text())
    run = log["runs"][0]
    run["results"] = run["results"][: len(run["results"]) // 2]
    run["invocations"] = [{"executionSuccessful": False, "toolExecutionNotifications": [
        {"level": "error", "message": {"text": "Out of memory."}}]}]
    crashed_file = tmp_path / "crashed.sarif"
    crashed_file.write_text(json.dumps(log))
    crashed = services.import_scan(repository=repo, path=crashed_file)
    assert not crashed.complete and any("Out of memory" in w or "did not" in w for w in crashed.warnings)
    assert crashed.counts["resolved"] == 0
    assert Finding.objects.filter(repository=repo, status="open").count() == 49
    # The complete log with the same half resolves the rest.
    del run["invocations"]
    crashed_file.write_text(json.dumps(log))
    assert services.import_scan(repository=repo, path=crashed_file).counts["resolved"] > 0


def _sarif_with_a_bad_result(path, good: int) -> None:
    import json

    results = [{"ruleId": f"R{i % 3}", "level": "error", "message": {"text": f"result {i}"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": f"src/f{i}.py"},
                                                    "region": {"startLine": i + 1}}}]} for i in range(good)]
    results.append({"ruleId": "R0", "message": {"text": "broken"}, "locations": {"not": "a list"}})
    path.write_text(json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL"}},
                                                               "results": results}]}))


def test_first_import_failing_after_batches_were_written_leaves_nothing(each_writer, tmp_path, monkeypatch):
    # Batches of 10: three are on their way to the database (on PostgreSQL, copied by a thread straight into the
    # findings table, as a repository's first import is) when result 30 turns out to be broken.
    from findings import bulk

    monkeypatch.setattr(services, "BATCH_SIZE", 10)
    sent = []
    monkeypatch.setattr(bulk._Background, "put", lambda self, batch, put=bulk._Background.put: (
        sent.append(batch), put(self, batch)))
    _sarif_with_a_bad_result(tmp_path / "broken.sarif", good=30)
    repo = RepositoryFactory()
    with pytest.raises(services.ScanImportError) as caught:
        services.import_scan(repository=repo, path=tmp_path / "broken.sarif")
    assert "runs[0].results[30].locations" in str(caught.value)
    assert len(sent) == (3 if each_writer == "copy" else 0)
    assert not Finding.objects.filter(repository=repo).exists()
    # The connection is usable and the next (good) import of the same repository works.
    _sarif_with_a_bad_result(tmp_path / "good.sarif", good=25)
    (tmp_path / "good.sarif").write_text((tmp_path / "good.sarif").read_text().replace(
        ', {"ruleId": "R0", "message": {"text": "broken"}, "locations": {"not": "a list"}}', ""))
    scan = services.import_scan(repository=repo, path=tmp_path / "good.sarif")
    assert scan.counts["new"] == 25 and Finding.objects.filter(repository=repo).count() == 25


def test_reimport_failing_after_batches_were_written_changes_nothing(each_writer, tmp_path, monkeypatch):
    # A repository with open and resolved findings; then a file whose first three batches of 10 hold 15 of the
    # open ones, the 10 resolved ones (they would reappear) and 5 new results before result 30 is broken. On
    # PostgreSQL those batches are already matched and written by the writer's thread when the error comes.
    from findings import bulk

    monkeypatch.setattr(services, "BATCH_SIZE", 10)
    repo = RepositoryFactory()
    _sarif_with_a_bad_result(tmp_path / "first.sarif", good=25)
    _strip_bad_result(tmp_path / "first.sarif")
    services.import_scan(repository=repo, path=tmp_path / "first.sarif")
    _sarif_with_a_bad_result(tmp_path / "second.sarif", good=15)
    _strip_bad_result(tmp_path / "second.sarif")
    assert services.import_scan(repository=repo, path=tmp_path / "second.sarif").counts["resolved"] == 10
    before, changes = _state(repo), FindingChange.objects.count()

    sent = []
    monkeypatch.setattr(bulk._Background, "put", lambda self, batch, put=bulk._Background.put: (
        sent.append(batch), put(self, batch)))
    _sarif_with_a_bad_result(tmp_path / "broken.sarif", good=30)
    with pytest.raises(services.ScanImportError, match=r"runs\[0\]\.results\[30\]\.locations"):
        services.import_scan(repository=repo, path=tmp_path / "broken.sarif")
    assert len(sent) == (3 if each_writer == "copy" else 0)
    assert _state(repo) == before
    assert FindingChange.objects.count() == changes


def _strip_bad_result(path) -> None:
    path.write_text(path.read_text().replace(
        ', {"ruleId": "R0", "message": {"text": "broken"}, "locations": {"not": "a list"}}', ""))


def test_reimport_statements_grow_with_batches_not_findings(data_dir, django_assert_max_num_queries, monkeypatch):
    repo = RepositoryFactory()
    _import(repo, data_dir, BANDIT1)
    monkeypatch.setattr(services, "BATCH_SIZE", 10)  # 49 findings, 2 of them new, 2 resolved: 5 batches
    with django_assert_max_num_queries(5 * 2 + 16):
        scan = _import(repo, data_dir, BANDIT2)
    assert (scan.counts["new"], scan.counts["unchanged"], scan.counts["resolved"]) == (2, 47, 2)


def test_big_first_import_leaves_the_planner_knowing_the_findings(data_dir, monkeypatch):
    # Without fresh statistics the next import's per-batch statements would be planned as if the repository held
    # nothing, or as if `fingerprint = ANY(<batch>)` matched most rows: scans of all its findings, batch after
    # batch, until autovacuum comes by. (The test's transaction rolls the statistics back.)
    from django.db import connection

    from findings import bulk

    monkeypatch.setattr(bulk, "ANALYZE_AFTER", 40)
    table = Finding._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM pg_statistic WHERE starelid = %s::regclass", [table])
    repo = RepositoryFactory()
    _import(repo, data_dir, BANDIT1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        assert cursor.fetchone()[0] == Finding.objects.count() == 49
        cursor.execute("SELECT attname FROM pg_stats WHERE tablename = %s", [table])
        assert {"repository_id", "fingerprint", "status", "tool"} <= {name for (name,) in cursor.fetchall()}


TRICKY = "back\\slash \\N tab\there\nnew line\r\ncarriage é 漢字 🛡 \\\\t end"


def _tricky_sarif(path, lines: list[int]) -> None:
    import json

    results = [{"ruleId": "R\\1\t", "level": "error", "message": {"text": f"{TRICKY} #{line}"},
                "partialFingerprints": {"k\t\\": "v\n\\N"},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": "src/we\\ird\tname.py"},
                    "region": {"startLine": line, "snippet": {"text": f"\tif x:\n\t\treturn '\\\\' # {line}"}}}}]}
               for line in lines]
    path.write_text(json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL"}},
                                                               "results": results}]}))


def test_text_with_copy_special_characters_is_stored_as_it_was(each_writer, tmp_path):
    # Backslashes, tabs, newlines and carriage returns are COPY's own syntax: a first import (copied straight into
    # the table) and a re-import's new findings (copied by the writer thread) must store them unchanged.
    repo = RepositoryFactory()
    _tricky_sarif(tmp_path / "first.sarif", [1, 2])
    services.import_scan(repository=repo, path=tmp_path / "first.sarif")
    _tricky_sarif(tmp_path / "second.sarif", [1, 2, 3])
    scan = services.import_scan(repository=repo, path=tmp_path / "second.sarif")
    assert (scan.counts["new"], scan.counts["unchanged"]) == (1, 2)
    for line in (1, 2, 3):
        finding = Finding.objects.get(repository=repo, start_line=line)
        assert finding.description == f"{TRICKY} #{line}"
        assert finding.rule_id == "R\\1\t"
        assert finding.file_path == "src/we/ird\tname.py"  # a backslash in a path is a separator (normalize_path)
        assert finding.snippet == f"\tif x:\n\t\treturn '\\\\' # {line}"
        assert finding.partial_fingerprints == {"k\t\\": "v\n\\N"}
