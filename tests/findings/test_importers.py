"""The scan importers (findings.importers): plain Python, no database.

Counts were checked by hand against the files (see tests/data/MANIFEST.md for what is special in each).
"""

from __future__ import annotations

import collections
import io
import json
import re
import tracemalloc
from pathlib import Path

import pytest

from findings.importers import ParsedFinding, ScanFormatError, detect_format, iter_findings, parse_scan
from findings.importers import sarif as sarif_module
from findings.importers.sarif import (
    At,
    CommonDir,
    JsonStream,
    PathResolver,
    format_message,
    fs_path,
    security_severity,
)

DATA = Path(__file__).resolve().parent.parent / "data"


def findings(name: str, **kwargs) -> list[ParsedFinding]:
    return list(iter_findings(DATA / name, **kwargs))


def severities(items: list[ParsedFinding]) -> dict[str, int]:
    return dict(collections.Counter(f.severity for f in items))


def write_sarif(tmp_path: Path, runs: list, name: str = "log.sarif", **top) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"version": "2.1.0", "runs": runs, **top}), encoding="utf-8")
    return path


def run(results: list, rules: list | None = None, **extra) -> dict:
    return {"tool": {"driver": {"name": "T", "rules": rules or []}}, "results": results, **extra}


def result(rule_id: str = "R1", text: str = "m", uri: str | None = "a.py", line: int | None = 3, **extra) -> dict:
    physical: dict = {"artifactLocation": {"uri": uri}}
    if line is not None:
        physical["region"] = {"startLine": line}
    return {"ruleId": rule_id, "message": {"text": text}, "locations": [{"physicalLocation": physical}], **extra}


# -- every data file ---------------------------------------------------------------------------------------------
# file -> (findings yielded, severity distribution)
EXPECTED = {
    "sarif/checkov-3.3.30__terragoat-aws.sarif": (215, {"high": 215}),
    # CodeQL 2.5.4 rules carry no security-severity: the rules' defaultConfiguration.level decides.
    "sarif/codeql-2.5.4__codeQL-output.sarif": (72, {"low": 57, "high": 11, "medium": 4}),
    "sarif/codeql-action-testdata__lgtm-and-codeql-two-runs.sarif": (3, {"low": 3}),
    "sarif/cppcheck-2.17.1__many.sarif": (7, {"critical": 4, "medium": 3}),
    "sarif/dependency-check-6.1.2__absolute-file-uri-no-region.sarif": (13, {"high": 13}),
    "sarif/detekt__vanilla.sarif.json": (3, {"high": 1, "medium": 1, "low": 1}),
    "sarif/devskim-1.0.90__many.sarif": (7, {"low": 1, "high": 5, "medium": 1}),
    "sarif/dockle-0.3.15__results-without-locations.sarif": (4, {"high": 1, "low": 3}),
    "sarif/eslint-8.57.1__nodegoat-absolute-file-uri-with-space.sarif": (44, {"high": 37, "medium": 7}),
    "sarif/flawfinder-2.0.19__kind-pass-and-fail.sarif": (53, {"high": 2, "medium": 1, "low": 50}),
    "sarif/fortify-fpr-converted__ruleIndex-only-no-ruleId.sarif": (3, {"medium": 3}),
    "sarif/gitleaks-7.4.0__results-without-ruleId.sarif": (8, {"medium": 8}),
    "sarif/grype-0.34.7__cxf-3.4.6.sarif": (22, {"low": 6, "high": 11, "medium": 4, "critical": 1}),
    "sarif/heimdall-hdf-converted__security-severity.sarif": (166, {"low": 91, "high": 43, "medium": 32}),
    "sarif/sarif-sdk-cwe-sample__ghas-shaped-security-severity.sarif": (7, {"high": 4, "critical": 1, "medium": 2}),
    "sarif/sarif-sdk__levels-none-note-warning-error.sarif": (5, {"info": 2, "low": 1, "medium": 1, "high": 1}),
    "sarif/sarif-tutorials__baseline-states.sarif": (3, {"medium": 3}),
    "sarif/sarif-tutorials__catastrophic-execution-error.sarif": (0, {}),
    "sarif/sarif-tutorials__empty-runs-array.sarif": (0, {}),
    "sarif/sarif-tutorials__original-uri-base-ids.sarif": (3, {"medium": 3}),
    "sarif/scorecard-testdata__percent-encoded-uri.sarif": (2, {"high": 1, "medium": 1}),
    "sarif/semgrep-oss-1.69.0__issue-10191.json": (77, {"medium": 42, "high": 1, "critical": 34}),
    "sarif/semgrep-oss-snapshot__nosemgrep-suppressions.sarif": (1, {"high": 1}),
    "sarif/slscan-python__taint-baselineState-new.sarif": (11, {"high": 8, "medium": 1, "low": 2}),
    "sarif/snyk-code__issue-9270.json": (39, {"medium": 24, "high": 12, "low": 3}),
    "sarif/spotbugs-4.4.0__message-id-with-arguments.sarif": (56, {"low": 56}),
    "sarif/trivy-golden__alpine-310-image.sarif": (4, {"medium": 4}),
    "bandit/defectdojo-fixture__bandit-2020-zero-results__no_vuln.json": (0, {}),
    "bandit/defectdojo-fixture__bandit-2021-no-col-offset__dd.json": (47, {"medium": 36, "low": 11}),
    "bandit/vulpy__scan1-baseline.bandit.json": (51, {"medium": 36, "low": 11, "high": 4}),
    "bandit/vulpy__scan1-baseline.bandit.sarif": (51, {"medium": 36, "low": 11, "high": 4}),
    "bandit/vulpy__scan2-after-edit.bandit.json": (51, {"medium": 35, "low": 11, "high": 5}),
    "bandit/vulpy__scan2-after-edit.bandit.sarif": (51, {"medium": 35, "low": 11, "high": 5}),
    "semgrep/defectdojo-fixture__semgrep-1.97.0__run1-line31.json": (1, {"high": 1}),
    "semgrep/defectdojo-fixture__semgrep-1.97.0__run2-same-finding-line24.json": (1, {"high": 1}),
    "semgrep/defectdojo-fixture__semgrep-empty-results.json": (0, {}),
    "semgrep/defectdojo-fixture__semgrep-old-no-version-field__many_vulns.json": (48, {"high": 13, "medium": 35}),
    "semgrep/vulpy__scan1-baseline.semgrep.json": (48, {"low": 4, "high": 12, "medium": 32}),
    "semgrep/vulpy__scan1-baseline.semgrep.sarif": (48, {"low": 4, "high": 12, "medium": 32}),
    "semgrep/vulpy__scan2-after-edit.semgrep.json": (48, {"low": 4, "high": 11, "medium": 33}),
    "semgrep/vulpy__scan2-after-edit.semgrep.sarif": (48, {"low": 4, "high": 11, "medium": 33}),
}

INVALID = {
    "sarif-invalid/huge-message-text-6MiB__from-eslint-nodegoat.sarif": (
        "runs[0].results[0].message.text: text longer than 1 MiB"
    ),
    "sarif-invalid/missing-runs__from-dockle-0.3.15.sarif": "runs: required",
    "sarif-invalid/real-checkov-testdata__run-without-tool.sarif": "runs[0].tool: required",
    "sarif-invalid/results-is-object-not-array__from-detekt.sarif": "runs[0].results: expected a list, got an object",
    "sarif-invalid/truncated-at-60pct__from-trivy-alpine-310.sarif": (
        "invalid JSON at byte 6968: unterminated string (the file ends inside it)"
    ),
    "sarif-invalid/wrong-version-1.0.0__from-gitleaks-7.4.0.sarif": "version: expected 2.1.0, got 1.0.0",
}

SCAN_FILES = sorted(
    str(p.relative_to(DATA))
    for folder in ("sarif", "bandit", "semgrep")
    for p in (DATA / folder).iterdir()
    if "EXPECTED-CHANGES" not in p.name
)


def test_every_data_file_is_covered():
    assert SCAN_FILES == sorted(EXPECTED)
    assert sorted(str(p.relative_to(DATA)) for p in (DATA / "sarif-invalid").iterdir()) == sorted(INVALID)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_and_severities(name):
    count, distribution = EXPECTED[name]
    items = findings(name)
    assert len(items) == count
    assert severities(items) == distribution
    for item in items:
        assert item.severity in ("critical", "high", "medium", "low", "info")
        assert isinstance(item.rule_id, str) and item.rule_id
        assert item.start_line is None or (item.start_line >= 1 and item.end_line >= item.start_line)
        assert not item.file_path.startswith(("/", "./")) and "\\" not in item.file_path
        assert len(item.snippet) <= sarif_module.SNIPPET_MAX_CHARS


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_files_are_rejected_with_a_pinned_message(name):
    with pytest.raises(ScanFormatError) as caught:
        parse_scan(DATA / name)
    assert str(caught.value) == INVALID[name]
    # iter_findings raises the same from the iteration, before yielding anything
    lazy = iter_findings(DATA / name)
    with pytest.raises(ScanFormatError, match=re.escape(INVALID[name])):
        next(lazy)


@pytest.mark.parametrize("name", SCAN_FILES + sorted(INVALID))
def test_detect_format(name):
    expected = "sarif" if name.endswith((".sarif", "sarif.json")) or name.startswith("sarif") else name.split("/")[0]
    assert detect_format(DATA / name) == expected


@pytest.mark.parametrize("name", ["bandit/vulpy__EXPECTED-CHANGES.json", "semgrep/vulpy__EXPECTED-CHANGES.json"])
def test_detect_format_rejects_other_json(name):
    with pytest.raises(ScanFormatError, match="^unrecognised scan format"):
        detect_format(DATA / name)


def test_detect_format_on_json_extension_sarif():
    assert detect_format(DATA / "sarif/semgrep-oss-1.69.0__issue-10191.json") == "sarif"
    assert detect_format(DATA / "sarif/snyk-code__issue-9270.json") == "sarif"


def test_explicit_and_unknown_format():
    assert len(findings("bandit/vulpy__scan1-baseline.bandit.json", format="bandit")) == 51
    with pytest.raises(ScanFormatError, match="^runs: required$"):  # a bandit report read as SARIF
        parse_scan(DATA / "bandit/vulpy__scan1-baseline.bandit.json", "sarif")
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        parse_scan(DATA / "bandit/vulpy__scan1-baseline.bandit.json", "xml")


# -- specific SARIF behaviour on the real files ------------------------------------------------------------------
def test_eslint_absolute_uri_with_space_is_made_repo_relative():
    items = findings("sarif/eslint-8.57.1__nodegoat-absolute-file-uri-with-space.sarif")
    first = items[0]
    assert (first.file_path, first.start_line, first.rule_id) == (
        "app/data/contributions-dao.js",
        86,
        "no-irregular-whitespace",
    )
    assert first.rule_title == "Disallow irregular whitespace"
    assert first.help_uri == "https://eslint.org/docs/latest/rules/no-irregular-whitespace"
    assert {f.file_path.split("/")[0] for f in items} == {"app", "config", "test"}
    assert all("Node Goat" not in f.file_path and "%20" not in f.file_path for f in items)
    security = [f for f in items if f.rule_id.startswith("security/")]
    assert security and all(f.rule_title for f in security)


def test_scorecard_percent_encoded_uri_and_line_zero():
    first, second = findings("sarif/scorecard-testdata__percent-encoded-uri.sarif")
    assert (first.file_path, first.start_line, first.end_line) == ("bin/binary.elf", None, None)
    assert second.file_path == "src/%doc.txt"
    assert (first.rule_id, first.severity) == ("CheckNameID", "high")  # security-severity "7.0"


def test_dependency_check_absolute_four_slash_uris_without_region():
    items = findings("sarif/dependency-check-6.1.2__absolute-file-uri-no-region.sarif")
    assert all(f.start_line is None and f.end_line is None for f in items)
    # file:////src/... : /src/ is the documented docker mount of the checkout
    assert (
        items[0].file_path
        == ".venv/lib/python3.9/site-packages/tastypie_swagger/static/tastypie_swagger/js/lib/handlebars-1.0.0.js"
    )
    assert all(f.file_path.startswith(".venv/lib/python3.9/site-packages/") for f in items)
    assert items[0].rule_title == ""  # no rules in the file


def test_dockle_results_without_locations():
    items = findings("sarif/dockle-0.3.15__results-without-locations.sarif")
    assert [(f.rule_id, f.file_path, f.start_line) for f in items][:2] == [
        ("CIS-DI-0010", "", None),
        ("CIS-DI-0005", "", None),
    ]
    assert items[0].rule_title == "Do not store credential in ENVIRONMENT vars/files"


def test_fortify_rule_through_rule_index_only():
    items = findings("sarif/fortify-fpr-converted__ruleIndex-only-no-ruleId.sarif")
    assert [f.rule_id for f in items] == [
        "D0ACE9F8-3C8F-42D4-BDB1-2FC9ECB0CDFB",
        "AC21F232-1D82-49B7-9AB1-46FE84CD6424",
        "6ED95DD1-4F81-44C6-A260-695DFD41B803",
    ]
    assert items[0].rule_title.startswith("The framework binder used for binding the HTTP request parameters")
    assert [f.file_path for f in items] == [
        "src/Controllers/ContentFileHandlingController.cs",
        "src/DocumentValidator.cs",
        "src/Controllers/ContentFileHandlingController.cs",
    ]
    assert (items[1].start_line, items[1].end_line) == (12, 18)
    assert items[0].snippet == "        public ContentFileViewModel ViewModel { get; set; }"


def test_spotbugs_message_from_message_strings():
    scan = parse_scan(DATA / "sarif/spotbugs-4.4.0__message-id-with-arguments.sarif")
    items = list(scan.findings)
    assert items[0].message == "Hard coded reference to an absolute pathname in Boot.main(String[])."
    assert (
        items[1].message
        == "Found reliance on default encoding in Boot.writeFrags(Log, String): new java.io.FileWriter(File)."
    )
    assert all(f.message and "{0}" not in f.message for f in items)
    assert (items[0].file_path, items[0].start_line) == ("Boot.java", 23)
    # SpotBugs says its own execution failed (missing classes): findings kept, scan flagged incomplete
    assert not scan.complete
    assert scan.problems[0] == "runs[0].invocations[0].executionSuccessful is false"


def test_levels_follow_the_spec_precedence():
    items = findings("sarif/sarif-sdk__levels-none-note-warning-error.sarif")
    stated = [re.search(r"Level should be '(\w+)'", f.message).group(1) for f in items]
    assert stated == ["none", "none", "note", "warning", "error"]
    assert [f.severity for f in items] == [sarif_module.LEVEL_SEVERITY[level] for level in stated]
    # hierarchical ruleIds keep their full id; metadata (and the override) come from 'ExplicitDefaultLevel'
    assert items[2].rule_id == "ExplicitDefaultLevel/ShouldBeNote"


def test_flawfinder_skips_kind_pass():
    raw = json.loads((DATA / "sarif/flawfinder-2.0.19__kind-pass-and-fail.sarif").read_text())
    kinds = collections.Counter(r.get("kind") for r in raw["runs"][0]["results"])
    assert kinds == {None: 52, "fail": 1, "pass": 1}
    items = findings("sarif/flawfinder-2.0.19__kind-pass-and-fail.sarif")
    assert len(items) == 53
    first = items[0]  # kind fail, no level: rule FF1048's default level error
    assert (first.rule_id, first.severity, first.file_path, first.start_line) == (
        "FF1048",
        "high",
        "src/tree/param.cc",
        29,
    )


def test_nosemgrep_suppressed_result_is_skipped():
    (item,) = findings("sarif/semgrep-oss-snapshot__nosemgrep-suppressions.sarif")
    assert (item.file_path, item.start_line, item.snippet) == (
        "targets/basic/regex-nosemgrep.txt",
        3,
        "aws_account_id:123456789012",
    )


def test_codeql_srcroot_and_rule_levels():
    items = findings("sarif/codeql-2.5.4__codeQL-output.sarif")
    first = items[0]
    assert (first.tool, first.rule_id, first.rule_title) == ("CodeQL", "py/empty-except", "Empty except")
    assert (first.file_path, first.start_line, first.severity) == ("good/db_init.py", 39, "low")
    assert first.partial_fingerprints == {
        "primaryLocationLineHash": "9cbc869fbfffeb60:1",
        "primaryLocationStartColumnFingerprint": "0",
    }
    assert first.snippet.startswith("    try:\n")  # contextRegion's snippet (the region has none)
    top = collections.Counter(f.file_path.split("/")[0] for f in items)
    assert top == {"good": 34, "bad": 26, "utils": 12}  # %SRCROOT%-relative uris, some through artifacts[index]


def test_two_runs_yield_findings_with_their_own_tool():
    scan = parse_scan(DATA / "sarif/codeql-action-testdata__lgtm-and-codeql-two-runs.sarif")
    assert scan.tools == ["LGTM.com", "CodeQL command-line toolchain"]
    items = list(scan.findings)
    assert [f.tool for f in items] == ["LGTM.com", "CodeQL command-line toolchain", "CodeQL command-line toolchain"]
    assert [(f.file_path, f.start_line) for f in items] == [("main.js", 2), ("main.js", 2), ("src/promiseUtils.js", 2)]


def test_gitleaks_rule_from_message_text():
    items = findings("sarif/gitleaks-7.4.0__results-without-ruleId.sarif")
    assert collections.Counter(f.rule_id for f in items) == {"AWS Access Key": 6, "Asymmetric Private Key": 2}
    assert items[0].rule_title == "AWS Access Key"
    assert (
        items[0].file_path
        == "dojo/unittests/scans/gitlab_secret_detection_report/gitlab_secret_detection_report_1_vuln.json"
    )


def test_baseline_state_absent_is_skipped():
    items = findings("sarif/sarif-tutorials__baseline-states.sarif")
    assert [f.message for f in items] == ["Unchanged result.", "Updated result.", "New result."]


def test_catastrophic_failure_and_empty_runs_are_incomplete():
    scan = parse_scan(DATA / "sarif/sarif-tutorials__catastrophic-execution-error.sarif")
    assert (scan.format, scan.tools, list(scan.findings), scan.complete) == ("sarif", ["CodeScanner"], [], False)
    assert scan.problems == [
        "runs[0]: no results array (the tool did not finish)",
        "runs[0].invocations[0].executionSuccessful is false",
        "runs[0].invocations[0].toolExecutionNotifications: error: Out of memory.",
    ]
    empty = parse_scan(DATA / "sarif/sarif-tutorials__empty-runs-array.sarif")
    assert (empty.tools, list(empty.findings), empty.complete) == ([], [], False)
    assert parse_scan(DATA / "sarif/codeql-2.5.4__codeQL-output.sarif").complete


def test_uri_base_id_chains():
    items = findings("sarif/sarif-tutorials__original-uri-base-ids.sarif")
    assert [f.file_path for f in items] == ["README.md", "src/io/kb.c", ""]
    assert all(f.start_line is None for f in items)


def test_working_directory_and_vcp_roots():
    slscan = findings("sarif/slscan-python__taint-baselineState-new.sarif")
    assert slscan[0].file_path == "dojo/tools/veracode/parser.py"  # file:///home/damien/dd/... minus workingDirectory
    assert all(f.file_path.startswith("dojo/") for f in slscan)
    cwe = findings("sarif/sarif-sdk-cwe-sample__ghas-shaped-security-severity.sarif")
    assert {f.file_path for f in cwe} == {"src/Sarif/Taxonomies/SampleCode.cs"}
    assert cwe[0].severity == "high"  # rule security-severity 7.8 although the result has no level


def test_heimdall_root_uri_means_no_file_and_trivy_rootpath():
    assert {f.file_path for f in findings("sarif/heimdall-hdf-converted__security-severity.sarif")} == {""}
    trivy = findings("sarif/trivy-golden__alpine-310-image.sarif")
    assert {f.file_path for f in trivy} == {"testdata/fixtures/images/alpine-310.tar.gz"}
    assert trivy[0].help_uri == "https://avd.aquasec.com/nvd/cve-2019-1549"


def test_semgrep_sarif_words_as_security_severity():
    items = findings("sarif/semgrep-oss-1.69.0__issue-10191.json")
    assert items[0].file_path == "Gruntfile.js" and items[0].start_line == 75


# -- bandit and semgrep JSON ----------------------------------------------------------------------------------------
def test_bandit_fields():
    items = findings("bandit/vulpy__scan1-baseline.bandit.json")
    first = items[0]
    assert first == ParsedFinding(
        tool="bandit",
        rule_id="B113",
        rule_title="request_without_timeout",
        severity="medium",
        message="Call to requests without timeout",
        file_path="bad/api_list.py",
        start_line=10,
        end_line=10,
        snippet=(
            "9 \n10     r = requests.get('http://127.0.1.1:5000/api/post/{}'.format(username))\n"
            "11     if r.status_code != 200:\n"
        ),
        partial_fingerprints={},
        help_uri="https://bandit.readthedocs.io/en/1.9.4/plugins/b113_request_without_timeout.html",
    )
    # both B108 results at the same file and line are yielded (the caller decides what a duplicate is)
    assert sum(1 for f in items if (f.file_path, f.start_line, f.rule_id) == ("bad/vulpy-ssl.py", 29, "B108")) == 2


def test_semgrep_fields():
    (item,) = findings("semgrep/defectdojo-fixture__semgrep-1.97.0__run1-line31.json")
    rule = "dangerous-subprocess-use-tainted-env-args"
    assert item.rule_id == f"python.lang.security.audit.{rule}.{rule}"
    assert item.rule_title == "dangerous-subprocess-use-tainted-env-args"
    assert (item.tool, item.severity, item.file_path, item.start_line, item.end_line) == (
        "semgrep",
        "high",
        "sample/brute.py",
        31,
        31,
    )
    assert item.message.startswith("Detected subprocess function 'run' with user controlled data.")
    assert set(item.partial_fingerprints) == {"fingerprint"}
    assert item.help_uri.startswith("https://")
    logged_out = findings("semgrep/vulpy__scan1-baseline.semgrep.json")
    assert all(f.snippet == "" and f.partial_fingerprints == {} for f in logged_out)  # 'requires login'


@pytest.mark.parametrize(
    ("tool", "ext"),
    [("bandit", "bandit.json"), ("bandit", "bandit.sarif"), ("semgrep", "semgrep.json"), ("semgrep", "semgrep.sarif")],
)
def test_scan_pair_differences_match_the_data_gatherers(tool, ext):
    expected = json.loads((DATA / f"{tool}/vulpy__EXPECTED-CHANGES.json").read_text())[f"{tool}/vulpy"]
    before = collections.Counter(
        (f.file_path, f.rule_id, f.start_line) for f in findings(f"{tool}/vulpy__scan1-baseline.{ext}")
    )
    after = collections.Counter(
        (f.file_path, f.rule_id, f.start_line) for f in findings(f"{tool}/vulpy__scan2-after-edit.{ext}")
    )
    gone = set(before) - set(after)
    new = set(after) - set(before)
    resolved = {(e["path"], e["rule"], e["line"]) for e in expected["resolved"]}
    moved_from = {(e["path"], e["rule"], e["line_before"]) for e in expected["moved"]}
    moved_to = {(e["path"], e["rule"], e["line_after"]) for e in expected["moved"]}
    added = {(e["path"], e["rule"], e["line"]) for e in expected["new"]}
    assert gone == resolved | moved_from
    assert new == added | moved_to
    assert sum(before.values()) == expected["scan1_results"]


# -- SARIF semantics on crafted logs --------------------------------------------------------------------------------
def test_kinds_suppressions_and_baseline(tmp_path):
    results = [
        result(text="no kind"),
        result(text="fail", kind="fail"),
        result(text="open", kind="open"),
        result(text="review", kind="review", level="none"),
        result(text="pass", kind="pass"),
        result(text="informational", kind="informational"),
        result(text="notApplicable", kind="notApplicable"),
        result(text="in source", suppressions=[{"kind": "inSource"}]),
        result(text="accepted", suppressions=[{"kind": "external", "status": "accepted"}]),
        result(text="rejected", suppressions=[{"kind": "external", "status": "rejected"}]),
        result(text="under review", suppressions=[{"kind": "external", "status": "underReview"}]),
        result(
            text="accepted+rejected",
            suppressions=[{"kind": "external", "status": "accepted"}, {"kind": "external", "status": "rejected"}],
        ),
        result(
            text="accepted+review",
            suppressions=[{"kind": "external", "status": "accepted"}, {"kind": "external", "status": "underReview"}],
        ),
        result(text="empty suppressions", suppressions=[]),
        result(text="absent", baselineState="absent"),
        result(text="new", baselineState="new"),
    ]
    items = findings_of(write_sarif(tmp_path, [run(results)]))
    assert [(f.message, f.severity) for f in items] == [
        ("no kind", "medium"),
        ("fail", "medium"),
        ("open", "info"),
        ("review", "info"),
        ("rejected", "medium"),
        ("under review", "medium"),
        ("accepted+review", "medium"),
        ("empty suppressions", "medium"),
        ("new", "medium"),
    ]


def findings_of(path: Path, **kwargs) -> list[ParsedFinding]:
    return list(iter_findings(path, **kwargs))


def test_severity_sources(tmp_path):
    rules = [
        {"id": "SS", "properties": {"security-severity": "9.1"}, "defaultConfiguration": {"level": "note"}},
        {"id": "LV", "defaultConfiguration": {"level": "error"}, "shortDescription": {"text": "Short"}, "name": "Nm"},
        {"id": "WORD", "properties": {"security-severity": "LOW"}},
        {"id": "BAD", "properties": {"security-severity": "n/a"}},
    ]
    results = [
        result("SS"),  # rule security-severity beats the level
        result("SS", properties={"security-severity": 2}),  # result's beats the rule's
        result("SS", properties={"security-severity": "0"}),
        result("LV"),  # rule default level
        result("LV", level="note"),  # result level beats the default
        result("WORD"),
        result("BAD", level="error"),  # unusable score: level
        result("UNKNOWN"),  # no rule at all: warning
    ]
    path = write_sarif(tmp_path, [run(results, rules, invocations=[{"executionSuccessful": True}])])
    items = findings_of(path)
    assert [f.severity for f in items] == ["critical", "low", "info", "high", "low", "low", "high", "medium"]
    assert items[3].rule_title == "Short"
    assert (items[7].rule_id, items[7].rule_title, items[7].help_uri) == ("UNKNOWN", "", "")


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (10, "critical"),
        (9.0, "critical"),
        (8.9, "high"),
        ("7.0", "high"),
        (6.99, "medium"),
        (4, "medium"),
        (3.9, "low"),
        (0.1, "low"),
        (0, "info"),
        ("CRITICAL", "critical"),
        ("Moderate", "medium"),
        (None, None),
        ("", None),
        ("high-ish", None),
        (10.5, None),
        (-1, None),
        (True, None),
        (float("nan"), None),
        ([9], None),
    ],
)
def test_security_severity_mapping(score, expected):
    assert security_severity(score) == expected


def test_rules_in_extensions_and_overrides(tmp_path):
    tool = {
        "driver": {"name": "Drv", "rules": [{"id": "D1", "defaultConfiguration": {"level": "error"}}]},
        "extensions": [
            {
                "name": "Ext",
                "rules": [{"id": "E1", "helpUri": "https://e/1", "defaultConfiguration": {"level": "error"}}],
            }
        ],
    }
    results = [
        {"ruleId": "E1", "message": {"text": "by id, found in an extension"}},
        {"rule": {"index": 0, "toolComponent": {"index": 0}}, "message": {"text": "by reference"}},
        {"ruleId": "D1", "message": {"text": "overridden"}},
    ]
    invocations = [
        {
            "executionSuccessful": True,
            "ruleConfigurationOverrides": [{"descriptor": {"id": "D1"}, "configuration": {"level": "note"}}],
        }
    ]
    path = write_sarif(tmp_path, [{"tool": tool, "results": results, "invocations": invocations}])
    items = findings_of(path)
    assert [(f.rule_id, f.help_uri, f.severity) for f in items] == [
        ("E1", "https://e/1", "high"),
        ("E1", "https://e/1", "high"),
        ("D1", "", "low"),
    ]


def test_messages(tmp_path):
    rules = [
        {
            "id": "R1",
            "messageStrings": {"default": {"text": "In {0}: {1} {{literal}} {5}"}},
            "fullDescription": {"text": "Full."},
        }
    ]
    results = [
        {"ruleId": "R1", "message": {"id": "default", "arguments": ["f()", 3]}},
        {"ruleId": "R1", "message": {"markdown": "**md** {0}", "arguments": ["x"]}},
        {"ruleId": "R1", "message": {"text": "plain {0} text"}},  # no arguments: not a template
        {"ruleId": "R1"},  # no message: the rule's description
    ]
    items = findings_of(write_sarif(tmp_path, [run(results, rules)]))
    assert [f.message for f in items] == ["In f(): 3 {literal} {5}", "**md** x", "plain {0} text", "Full."]


def test_format_message_is_bounded():
    assert format_message("{0}{{}}{1}", ["a"]) == "a{}{1}"
    huge = format_message("{0}" * 100, ["x" * 100_000])
    assert len(huge) == sarif_module.MESSAGE_MAX_CHARS and huge.endswith("\u2026")


def test_locations(tmp_path):
    artifacts = [{"location": {"uri": "lib/b.py", "uriBaseId": "SRC"}}]
    results = [
        {
            "ruleId": "R",
            "message": {"text": "by artifact index"},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"index": 0}, "region": {"startLine": 4, "endLine": 2}}}
            ],
        },
        {"ruleId": "R", "message": {"text": "logical only"}, "locations": [{"logicalLocations": [{"name": "f"}]}]},
        {"ruleId": "R", "message": {"text": "empty"}, "locations": []},
        {
            "ruleId": "R",
            "message": {"text": "no region"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "x%2520y.py"}}}],
        },
        {
            "ruleId": "R",
            "message": {"text": "snippet"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "s.py"},
                        "region": {"startLine": 1, "snippet": {"text": "s" * 5000}},
                    }
                }
            ],
            "partialFingerprints": {"a": "1", "n": 2, "bad": {"x": 1}},
        },
    ]
    bases = {"SRC": {"uri": "src/", "uriBaseId": "ROOT"}, "ROOT": {"uri": "file:///work/repo/"}}
    items = findings_of(write_sarif(tmp_path, [run(results, artifacts=artifacts, originalUriBaseIds=bases)]))
    assert [(f.file_path, f.start_line, f.end_line) for f in items] == [
        ("src/lib/b.py", 4, 4),
        ("", None, None),
        ("", None, None),
        ("x%20y.py", None, None),
        ("s.py", 1, 1),
    ]
    assert len(items[4].snippet) == sarif_module.SNIPPET_MAX_CHARS and items[4].snippet.endswith("\u2026")
    assert items[4].partial_fingerprints == {"a": "1", "n": "2"}


def test_text_is_made_storable(tmp_path):
    # "\u0000" and lone surrogates are valid JSON escapes, but PostgreSQL and UTF-8 reject them
    path = write_sarif(tmp_path, [run([result(rule_id="R\u0000", text="a\u0000b\udc80c\U0001f600", uri="d\udc80.py")])])
    (item,) = findings_of(path)
    assert (item.rule_id, item.message, item.file_path) == ("R\ufffd", "a\ufffdb\ufffdc\U0001f600", "d\ufffd.py")


def test_semantic_errors_are_raised_from_the_iteration_at_the_result(tmp_path):
    results = [result(text="fine"), {"ruleId": "R", "message": {"text": "bad"}, "locations": {"0": {}}}, result()]
    lazy = iter_findings(write_sarif(tmp_path, [run(results)]))
    assert next(lazy).message == "fine"
    with pytest.raises(
        ScanFormatError, match=re.escape("runs[0].results[1].locations: expected a list, got an object")
    ):
        next(lazy)


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ({"version": "2.1.0", "runs": [{"tool": {}, "results": []}]}, "runs[0].tool.driver: required"),
        ({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]}, "runs[0].tool.driver.name: required"),
        (
            {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": 3}}}]},
            "runs[0].tool.driver.name: expected a string, got a number",
        ),
        (
            {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "T", "rules": [{}]}}}]},
            "runs[0].tool.driver.rules[0].id: required",
        ),
        ({"version": "2.1.0", "runs": {}}, "runs: expected a list, got an object"),
        ({"version": "2.1.0", "runs": [[]]}, "runs[0]: expected an object, got a list"),
        ({"version": 2.1, "runs": []}, "version: expected a string, got a number"),
        ({"runs": []}, "version: required"),
        (
            {"version": "2.1.0", "runs": [run([], originalUriBaseIds={"A\nB": 5})]},
            "runs[0].originalUriBaseIds.A\\nB: expected an object, got a number",
        ),
        ({"version": "2.1.0", "runs": [run([7])]}, "runs[0].results[0]: expected an object, got a number"),
        (
            {"version": "2.1.0", "runs": [run([result(level="fatal")])]},
            "runs[0].results[0].level: expected one of none, note, warning, error; got fatal",
        ),
        (
            {"version": "2.1.0", "runs": [run([result(kind="maybe")])]},
            "runs[0].results[0].kind: expected one of fail, informational, notApplicable, open, pass, review; "
            "got maybe",
        ),
        (
            {"version": "2.1.0", "runs": [run([result(ruleIndex=3)], [{"id": "R1"}])]},
            "runs[0].results[0].ruleIndex: 3 is out of range (1 rules)",
        ),
        (
            {
                "version": "2.1.0",
                "runs": [
                    run(
                        [
                            {
                                "message": {"text": "x"},
                                "locations": [{"physicalLocation": {"artifactLocation": {"index": 2}}}],
                            }
                        ]
                    )
                ],
            },
            "runs[0].results[0].locations[0].physicalLocation.artifactLocation.index: 2 is out of range (0 artifacts)",
        ),
        (
            {
                "version": "2.1.0",
                "runs": [run([result(line=None, locations=[{"physicalLocation": {"region": {"startLine": "4"}}}])])],
            },
            "runs[0].results[0].locations[0].physicalLocation.region.startLine: expected an integer, got a string",
        ),
        (
            {"version": "2.1.0", "runs": [run([result(suppressions=[{"status": "maybe"}])])]},
            "runs[0].results[0].suppressions[0].status: expected one of accepted, underReview, rejected; got maybe",
        ),
    ],
)
def test_structure_errors(tmp_path, log, message):
    path = tmp_path / "log.sarif"
    path.write_text(json.dumps(log))
    with pytest.raises(ScanFormatError) as caught:
        list(iter_findings(path, "sarif"))
    assert str(caught.value) == message


# -- the streaming reader ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "unrecognised scan format: the file is empty"),
        (b"[1, 2]", "unrecognised scan format: the top-level JSON value is not an object"),
        (b'{"version": "2.1.0", "runs": [}', "invalid JSON at byte 30: expected a value"),
        (b'{"version": "2.1.0", "runs": [],}', "invalid JSON at byte 32: expected a property name in double quotes"),
        (b'{"version": "2.1.0" "runs": []}', "invalid JSON at byte 20: expected ',' or '}' after an object member"),
        (b'{"version" "2.1.0"}', "invalid JSON at byte 11: expected ':' after a property name"),
        (
            b'{"version": "2.1.0", "runs": [], "x": [1 2]}',
            "invalid JSON at byte 41: expected ',' or ']' after a list element",
        ),
        (b'{"version": "2.1.0", "runs": [], "x": tru}', "invalid JSON at byte 38: expected a value"),
        (b'{"version": "2.1.0", "runs": []} {}', "invalid JSON at byte 33: unexpected data after the top-level value"),
        (b'{"version": "2.1.0", "runs": [', "invalid JSON at byte 30: unexpected end of file"),
        # byte, not character, offsets: the two 'é' are 2 bytes each
        ('{"$schema": "sarif", "é": "\u00e9", "x": [1,]}'.encode(), "invalid JSON at byte 41: expected a value"),
        (b'{"version": "2.1.0", "runs": [], "x": "a\xff"}', "invalid UTF-8 at byte 40"),
        (
            b'{"version": "2.1.0", "runs": [], "x": "a\nb"}',
            "invalid JSON at byte 40: invalid control character in a string",
        ),
    ],
)
def test_json_syntax_errors(tmp_path, raw, message):
    path = tmp_path / "log.sarif"
    path.write_bytes(raw)
    with pytest.raises(ScanFormatError) as caught:
        parse_scan(path)
    assert str(caught.value) == message


def test_byte_order_mark_is_tolerated(tmp_path):
    path = tmp_path / "bom.sarif"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"version": "2.1.0", "runs": [run([result()])]}).encode())
    assert len(findings_of(path)) == 1


def test_limits(tmp_path):
    deep: object = "leaf"
    for _ in range(70):
        deep = {"d": deep}
    path = write_sarif(tmp_path, [run([result(properties=deep)])])
    with pytest.raises(
        ScanFormatError, match=r"^runs\[0\]\.results\[0\]\.properties(\.d){59}: nesting deeper than 64 levels$"
    ):
        parse_scan(path)
    # 1 MiB of text is fine, one more byte is not; a non-ASCII character counts its UTF-8 bytes
    ok = write_sarif(tmp_path, [run([result(text="x" * (1 << 20))])], name="ok.sarif")
    assert len(findings_of(ok)[0].message) == 1 << 20
    too_long = write_sarif(tmp_path, [run([result(text="\u00e9" * ((1 << 19) + 1))])], name="long.sarif")
    with pytest.raises(ScanFormatError, match=r"^runs\[0\]\.results\[0\]\.message\.text: text longer than 1 MiB$"):
        parse_scan(too_long)
    key = write_sarif(tmp_path, [run([result(properties={"k" * ((1 << 20) + 1): 1})])], name="key.sarif")
    with pytest.raises(
        ScanFormatError, match=r"^runs\[0\]\.results\[0\]\.properties: property name longer than 1 MiB$"
    ):
        parse_scan(key)


def test_value_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(sarif_module, "MAX_VALUE_CHARS", 10_000)
    monkeypatch.setattr(sarif_module, "CHUNK_SIZE", 1024)
    path = write_sarif(tmp_path, [run([result(), result(text="y" * 20_000)])])
    with pytest.raises(ScanFormatError, match=r"^runs\[0\]\.results\[1\]: value larger than 0 MiB$"):
        parse_scan(path)


@pytest.mark.parametrize("chunk_size", [1, 7, 100])
def test_chunk_boundaries_do_not_change_anything(monkeypatch, chunk_size):
    names = [n for n in sorted(EXPECTED) if (DATA / n).stat().st_size < 130_000]
    expected = {name: findings(name) for name in names}
    monkeypatch.setattr(sarif_module, "CHUNK_SIZE", chunk_size)
    for name in names:
        assert findings(name) == expected[name], name
    with pytest.raises(ScanFormatError, match="^invalid JSON at byte 6968: unterminated string"):
        parse_scan(DATA / "sarif-invalid/truncated-at-60pct__from-trivy-alpine-310.sarif")


class Trickle(io.BytesIO):
    """A file whose every read returns at most `step` bytes, to put a buffer boundary at every position."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__(data)
        self.step = step

    def read(self, size: int = -1) -> bytes:
        return super().read(self.step if size < 0 else min(size, self.step))


@pytest.mark.parametrize("step", [1, 2, 3, 5])
def test_reader_across_every_buffer_boundary(step):
    document = {
        "a": [1, -2.5e-3, True, False, None, 'x"y\\z\u00e9\U0001f600', {"k": []}],
        "\u00e9t\u00e9": {"nested": {"deeper": ["\u20ac" * 3, 12345678901234567890]}},
        "n": 1234567,
        "t": "true",
    }
    raw = json.dumps(document, ensure_ascii=False, indent=1).encode()
    stream = JsonStream(Trickle(raw, step))
    stream.enter("{", "(root)", 1)
    decoded = {}
    for key in stream.members("(root)"):
        if key == "a":
            stream.enter("[", "a", 2)
            decoded[key] = [stream.read(At("a", i), 3) for i in stream.elements("a")]
        else:
            decoded[key] = stream.read(key, 2)
    stream.finish()
    assert decoded == json.loads(raw)


@pytest.mark.parametrize("step", [1, 3])
def test_whole_files_read_one_byte_at_a_time(monkeypatch, step):
    names = [n for n in sorted(EXPECTED) if (DATA / n).stat().st_size < 15_000]
    assert len(names) >= 10
    expected = {name: findings(name) for name in names}
    monkeypatch.setattr(sarif_module, "open", lambda path, mode: Trickle(Path(path).read_bytes(), step), raising=False)
    for name in names:
        if name.endswith(".sarif") or "sarif" in name.split("/")[0]:
            assert list(sarif_module.SarifScan(DATA / name).findings()) == expected[name], name


# -- paths --------------------------------------------------------------------------------------------------------
def resolver(uris: list[str], **kwargs) -> PathResolver:
    common = CommonDir()
    for uri in uris:
        common.add(fs_path(uri))
    return PathResolver(common=common, **kwargs)


def test_common_root_needs_two_directories():
    one_file = resolver(["file:///tmp/x/app/a.js"])
    assert one_file.resolve("file:///tmp/x/app/a.js") == "tmp/x/app/a.js"  # kept whole: can't tell the root
    one_dir = resolver(["file:///tmp/x/app/a.js", "file:///tmp/x/app/b.js"])
    assert one_dir.resolve("file:///tmp/x/app/b.js") == "tmp/x/app/b.js"
    two_dirs = resolver(["file:///tmp/x/app/a.js", "file:///tmp/x/lib/b.js", "file:///tmp/x/c.js"])
    assert [two_dirs.resolve(u) for u in ("file:///tmp/x/app/a.js", "file:///tmp/x/c.js")] == ["app/a.js", "c.js"]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("file:///home/runner/work/acme/acme/src/a.py", "src/a.py"),
        ("file:///github/workspace/src/a.py", "src/a.py"),
        ("/src/lib/a.py", "lib/a.py"),
        ("file:///C:/Users/me/repo/a%20b.cs", "C:/Users/me/repo/a b.cs"),
        ("C:\\Users\\me\\repo\\a.cs", "C:/Users/me/repo/a.cs"),
        ("https://example.com/login", ""),
    ],
)
def test_absolute_uris_without_declared_root(uri, expected):
    assert resolver([]).resolve(uri) == expected


def test_declared_roots():
    bases = {
        "REPO": ("file:///C:/build/repo/", None),
        "SRC": ("src/", "REPO"),
        "SRCABS": ("file:///c:/build/repo/src/", None),
        "WEB": ("https://github.com/o/r/blob/abc/", None),
    }
    paths = PathResolver(bases=bases, working_dirs=["file:///ignored/"])
    assert paths.resolve("file:///C:/build/repo/src/a.cs") == "src/a.cs"  # shortest declared root that contains it
    assert paths.resolve("a.cs", "SRC") == "src/a.cs"
    assert paths.resolve("a.cs", "SRCABS") == "a.cs"  # an absolute base is its own root...
    mapped = PathResolver(bases=bases, vcp_bases={"REPO"})
    assert mapped.resolve("a.cs", "SRCABS") == "src/a.cs"  # ...unless the VCP-mapped root sits above it
    assert paths.resolve("https://github.com/o/r/blob/abc/docs/x.md") == "docs/x.md"
    assert (
        PathResolver(vcp_repos=["https://github.com/o/r"]).resolve("https://github.com/o/r/blob/main/a/b.py")
        == "a/b.py"
    )
    assert PathResolver(source_root="/opt/checkout").resolve("/opt/checkout/pkg/m.py") == "pkg/m.py"
    assert PathResolver(working_dirs=["file:///home/u/proj"]).resolve("file:///home/u/proj/m.py") == "m.py"


def test_source_root_argument(tmp_path):
    path = write_sarif(tmp_path, [run([result(uri="file:///builds/team/proj/app/main.py")])])
    assert findings_of(path)[0].file_path == "builds/team/proj/app/main.py"
    assert findings_of(path, source_root="/builds/team/proj")[0].file_path == "app/main.py"


# -- streaming ----------------------------------------------------------------------------------------------------
def generate_sarif(path: Path, count: int) -> None:
    """A log shaped like CodeQL's output, with the tool (and its rules) after the results."""
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '{"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [{"results": ['
        )
        for i in range(count):
            item = {
                "ruleId": f"py/rule-{i % 40}",
                "ruleIndex": i % 40,
                "message": {"text": f"Issue {i}: user-provided value flows to a dangerous sink " + "x" * 200},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": f"src/pkg{i % 50}/mod{i % 300}.py", "uriBaseId": "%SRCROOT%"},
                            "region": {"startLine": i % 900 + 1, "startColumn": 5, "endColumn": 44},
                            "contextRegion": {
                                "startLine": i % 900 + 1,
                                "endLine": i % 900 + 3,
                                "snippet": {"text": "    x = f(y)\n" * 3},
                            },
                        }
                    }
                ],
                "partialFingerprints": {"primaryLocationLineHash": f"{i:016x}:1"},
            }
            out.write(("," if i else "") + json.dumps(item))
        rules = [
            {
                "id": f"py/rule-{k}",
                "shortDescription": {"text": f"Rule {k}"},
                "defaultConfiguration": {"level": "warning"},
                "properties": {"security-severity": str(k % 10)},
            }
            for k in range(40)
        ]
        out.write('], "tool": {"driver": {"name": "Gen", "rules": ' + json.dumps(rules) + "}}}]}")


def test_large_log_streams_in_bounded_memory(tmp_path):
    path = tmp_path / "large.sarif"
    generate_sarif(path, 20_000)
    assert path.stat().st_size > 10_000_000
    tracemalloc.start()
    try:
        scan = parse_scan(path)
        count = 0
        for item in scan.findings:
            count += 1
            last = item
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert (last.tool, last.rule_id, last.rule_title, last.severity) == ("Gen", "py/rule-39", "Rule 39", "critical")
    assert last.file_path == "src/pkg49/mod199.py"
    assert peak < 50_000_000, f"peak {peak / 1e6:.1f} MB for a {path.stat().st_size / 1e6:.0f} MB file"
