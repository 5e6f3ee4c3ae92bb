"""Fuzzing the scan importers with broken and hostile documents (hypothesis).

Documents shaped like SARIF, bandit and semgrep output, with any part replaced by a value of the wrong type, huge or
odd numbers, odd texts (NUL, lone surrogates, control characters), then serialised and maybe truncated, cut into by
invalid UTF-8, wrapped in deep nesting or gzip-compressed. Whatever comes in:

* the importers raise nothing but ScanFormatError (never OSError, never anything else), and each message is one
  non-empty line;
* the findings they yield are well-formed;
* through findings.services.import_scan, a rejected file writes nothing: the repository's findings are as before
  and the scan is failed with the message.
"""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findings import services
from findings.importers import ScanFormatError, iter_findings, parse_scan
from findings.models import Finding, Scan
from tests.factories import RepositoryFactory

EXAMPLES = int(__import__("os").environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=__import__("os").environ.get("FUZZ_RANDOM") != "1",
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
SEVERITIES = {"critical", "high", "medium", "low", "info"}

# --- values ------------------------------------------------------------------------------------------------------
odd_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "\x00", "a\x00b", "\ud800", "x\udfffy", "\u2028", "../../etc/passwd", "file:///C:/a b/c.py",
                     "C:\\src\\a.py", "//host/share/x", "%00", "%ZZ", "https://github.com/o/r/blob/abc/x.py",
                     "{0}{1}{99}", "{", "}", "\\", "/" * 100, "é" * 10, "\U0001f600"]),
)
huge_int = st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**63, -(2**63), 10**30, 10**400])
number = st.one_of(st.integers(), huge_int, st.floats(allow_nan=True, allow_infinity=True))
scalar = st.one_of(st.none(), st.booleans(), number, odd_text)
junk = st.recursive(
    scalar,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(odd_text, children, max_size=4)),
    max_leaves=12,
)


@st.composite
def maybe(draw, good):
    """Mostly the right shape, now and then anything (a document has dozens of such places)."""
    return draw(junk) if draw(st.integers(0, 29)) == 0 else draw(good)


def obj(required: dict, optional: dict):
    return maybe(st.fixed_dictionaries({k: maybe(v) for k, v in required.items()},
                                       optional={k: maybe(v) for k, v in optional.items()}))


line = st.one_of(st.integers(min_value=-3, max_value=5000), huge_int)
uri = st.one_of(st.sampled_from(["app/db.py", "./src/x.js", "/github/workspace/a.py", "file:///tmp/s/a.py",
                                 "src/%20space.py", "C:/x/y.cs"]), odd_text)

# --- SARIF ---------------------------------------------------------------------------------------------------------
sarif_region = obj({}, {"startLine": line, "endLine": line, "snippet": obj({}, {"text": odd_text})})
sarif_location = obj({}, {"physicalLocation": obj({}, {
    "artifactLocation": obj({}, {"uri": uri, "uriBaseId": st.sampled_from(["SRCROOT", "%SRCROOT%", "x"]),
                                 "index": st.integers(-2, 5)}),
    "region": sarif_region, "contextRegion": sarif_region})})
sarif_rule = obj({"id": odd_text}, {
    "name": odd_text, "shortDescription": obj({}, {"text": odd_text}),
    "defaultConfiguration": obj({}, {"level": st.sampled_from(["error", "warning", "note", "none", "bogus"])}),
    "properties": obj({}, {"security-severity": st.one_of(st.sampled_from(["9.8", "HIGH", "x", "nan"]), number)}),
    "messageStrings": st.dictionaries(odd_text, obj({"text": odd_text}, {}), max_size=2),
    "helpUri": odd_text})
sarif_result = obj({}, {
    "ruleId": odd_text, "ruleIndex": st.one_of(st.integers(-2, 5), huge_int),
    "rule": obj({}, {"id": odd_text, "index": line}),
    "kind": st.sampled_from(["fail", "pass", "open", "review", "notApplicable", "informational", "x"]),
    "level": st.sampled_from(["error", "warning", "note", "none", "bogus"]),
    "message": obj({}, {"text": odd_text, "id": odd_text, "arguments": st.lists(junk, max_size=3)}),
    "locations": st.lists(sarif_location, max_size=2),
    "properties": obj({}, {"security-severity": st.one_of(st.sampled_from(["9.8", "7", "HIGH", "x"]), number)}),
    "suppressions": st.lists(obj({}, {"status": st.sampled_from(["accepted", "underReview", "rejected", "x"])}),
                             max_size=2),
    "baselineState": st.sampled_from(["new", "unchanged", "updated", "absent", "x"]),
    "partialFingerprints": st.dictionaries(odd_text, maybe(odd_text), max_size=2),
})
sarif_extension = obj({"name": odd_text}, {"rules": st.lists(sarif_rule, max_size=2)})
sarif_run = obj({"tool": obj({"driver": obj({"name": odd_text}, {"rules": st.lists(sarif_rule, max_size=3)})},
                             {"extensions": st.lists(sarif_extension, max_size=2)})},
                {"results": st.lists(sarif_result, max_size=4),
                 "artifacts": st.lists(obj({}, {"location": obj({}, {"uri": uri, "uriBaseId": odd_text})}), max_size=2),
                 "invocations": st.lists(obj({}, {"executionSuccessful": st.booleans(),
                                                  "toolExecutionNotifications": st.lists(
                                                      obj({}, {"level": st.sampled_from(["error", "note"]),
                                                               "message": obj({}, {"text": odd_text})}),
                                                      max_size=2)}), max_size=2),
                 "originalUriBaseIds": st.dictionaries(odd_text, obj({}, {"uri": uri, "uriBaseId": odd_text}),
                                                       max_size=2),
                 "versionControlProvenance": st.lists(obj({}, {"repositoryUri": odd_text, "revisionId": odd_text}),
                                                      max_size=1)})
sarif_doc = obj({"version": st.sampled_from(["2.1.0"] * 8 + ["2.0.0", ""]), "runs": st.lists(sarif_run, max_size=3)},
                {"$schema": st.just("https://json.schemastore.org/sarif-2.1.0.json")})

# --- bandit and semgrep --------------------------------------------------------------------------------------------
bandit_severity = st.sampled_from(["HIGH", "MEDIUM", "low", "UNDEFINED", "x"])
bandit_result = obj({"filename": uri, "test_id": odd_text, "issue_severity": bandit_severity},
                    {"line_number": line, "line_range": st.lists(maybe(line), max_size=3), "test_name": odd_text,
                     "issue_text": odd_text, "code": odd_text, "more_info": odd_text, "issue_confidence": odd_text})
bandit_doc = obj({"results": st.lists(bandit_result, max_size=4)},
                 {"generated_at": odd_text, "metrics": junk,
                  "errors": st.lists(obj({}, {"filename": odd_text, "reason": odd_text}), max_size=2)})
semgrep_pos = obj({}, {"line": line, "col": line, "offset": line})
semgrep_result = obj({"check_id": odd_text, "path": uri}, {
    "start": semgrep_pos, "end": semgrep_pos,
    "extra": obj({}, {"message": odd_text, "severity": st.sampled_from(["ERROR", "WARNING", "INFO", "CRITICAL", "x"]),
                      "metadata": obj({}, {"security-severity": number, "shortlink": odd_text,
                                           "references": st.lists(junk, max_size=2)}),
                      "lines": odd_text, "fingerprint": odd_text, "is_ignored": st.booleans()})})
semgrep_doc = obj({"results": st.lists(semgrep_result, max_size=4)},
                  {"version": odd_text, "errors": st.lists(obj({}, {"message": odd_text, "level": odd_text}),
                                                           max_size=2),
                   "paths": obj({}, {"scanned": st.lists(uri, max_size=3)})})


# --- bytes ---------------------------------------------------------------------------------------------------------
def _dumps(doc, ensure_ascii: bool) -> bytes:
    return json.dumps(doc, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")


any_doc = st.one_of(sarif_doc, bandit_doc, semgrep_doc)


@st.composite
def document(draw) -> bytes:
    data = _dumps(draw(any_doc), draw(st.booleans()))
    damage = draw(st.sampled_from(["none", "none", "truncate", "invalid-utf8", "splice", "nest", "gzip", "bom"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif damage == "invalid-utf8":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                                                 b"\xc0\xaf", b"\x80"])) + data[at:]
    elif damage == "splice":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=8)) + data[at:]
    elif damage == "nest":
        depth = draw(st.sampled_from([63, 64, 65, 200, 5000]))
        data = b"[" * depth + data + b"]" * depth if draw(st.booleans()) else (
            data[:-1] + b', "x": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}" if data.endswith(b"}") else data)
    elif damage == "gzip":
        data = gzip.compress(data)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    return data


def check_finding(finding) -> None:
    assert finding.severity in SEVERITIES
    for text in (finding.tool, finding.rule_id, finding.rule_title, finding.message, finding.file_path,
                 finding.snippet, finding.help_uri):
        assert isinstance(text, str) and "\x00" not in text
        text.encode("utf-8")  # storable: no lone surrogate
    for line in (finding.start_line, finding.end_line):
        assert line is None or (type(line) is int and 1 <= line <= 2**31 - 1)


def check_error(exc: ScanFormatError) -> None:
    message = str(exc)
    assert message.strip(), "empty ScanFormatError message"
    assert "\n" not in message and "\r" not in message, f"multi-line message: {message!r}"


def parse_all(path, format: str = "auto") -> list:
    """Both passes over a file; only ScanFormatError may come out."""
    try:
        scan = parse_scan(path, format)
        findings = list(scan.findings)
    except ScanFormatError as exc:
        check_error(exc)
        return []
    except OSError as exc:  # pragma: no cover - the failure we are looking for
        raise AssertionError(f"OSError from the importer: {exc!r}") from exc
    for finding in findings:
        check_finding(finding)
    assert all(isinstance(tool, str) for tool in scan.tools)
    return findings


def _gunzipped(data: bytes) -> bytes:
    """The importers read plain JSON; import_scan decompresses first (tested below), so do the same here."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error):
        return b"{"  # broken gzip: findings.uploads reports it; here any bad document will do


@FUZZ
@given(data=document(), format=st.sampled_from(["auto", "sarif", "bandit", "semgrep"]))
def test_importers_raise_only_scan_format_errors(tmp_path, data, format):
    path = tmp_path / "scan.json"
    path.write_bytes(_gunzipped(data))
    parse_all(path, format)
    try:
        for finding in iter_findings(path, format):
            check_finding(finding)
    except ScanFormatError as exc:
        check_error(exc)


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_arbitrary_bytes(tmp_path, data):
    path = tmp_path / "scan.json"
    path.write_bytes(data)
    parse_all(path)


@pytest.fixture
def fuzz_repository(db):
    """A repository with findings from a good scan, which no rejected file may change."""
    repository = RepositoryFactory(name="acme/fuzz")
    good = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL"}}, "results": [
        {"ruleId": f"r{i}", "message": {"text": "m"}, "level": "error", "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": f"app/f{i}.py"}, "region": {"startLine": i + 1}}}]} for i in range(3)]}]}
    return repository, good


def findings_of(repository) -> list[tuple]:
    return list(Finding.objects.filter(repository=repository).order_by("pk").values_list(
        "pk", "fingerprint", "status", "last_scan_id", "resolved_at", "start_line", "description"))


@FUZZ
@given(data=document())
def test_import_scan_writes_nothing_for_a_rejected_file(tmp_path, fuzz_repository, data):
    repository, good = fuzz_repository
    if not Finding.objects.filter(repository=repository).exists():
        good_path = tmp_path / "good.sarif"
        good_path.write_text(json.dumps(good))
        services.import_scan(repository=repository, path=good_path)
    before = findings_of(repository)
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    try:
        scan = services.import_scan(repository=repository, path=path)
    except services.ScanImportError as exc:
        check_error(exc)
        assert findings_of(repository) == before
        assert exc.scan is not None
        exc.scan.refresh_from_db()
        assert exc.scan.status == Scan.Status.FAILED and exc.scan.error == str(exc)
        return
    scan.refresh_from_db()
    assert scan.status == Scan.Status.COMPLETED
    # The good scan's findings are back for the next example (this one may have resolved or replaced them).
    Finding.objects.filter(repository=repository).delete()


# --- what the fuzzing found (each was a server error: a database error or an OverflowError) -----------------------
def _sarif(result: dict, tool: str = "CodeQL") -> dict:
    base = {"ruleId": "r1", "message": {"text": "m"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.py"}, "region": {"startLine": 3}}}]}
    return {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": tool}}, "results": [{**base, **result}]}]}


REGRESSIONS = {
    "sarif startLine 2**31": (_sarif({"locations": [{"physicalLocation": {
        "artifactLocation": {"uri": "a.py"}, "region": {"startLine": 2**31}}}]}), "startLine: 2147483648 is larger"),
    "sarif endLine 10**30": (_sarif({"locations": [{"physicalLocation": {
        "artifactLocation": {"uri": "a.py"}, "region": {"startLine": 1, "endLine": 10**30}}}]}), "endLine: 1000000"),
    "bandit line_number 2**40": ({"results": [{"filename": "a.py", "test_id": "B101", "issue_severity": "LOW",
                                               "line_number": 2**40}]}, "results[0].line_number: 1099511627776"),
    "semgrep start.line 2**31": ({"results": [{"check_id": "x", "path": "a.py", "start": {"line": 2**31},
                                               "extra": {}}]}, "results[0].start.line: 2147483648"),
    "NUL in the tool name": (_sarif({}, tool="co\x00de\udc00ql"), None),
    "NUL in bandit's errors": ({"results": [], "errors": [{"filename": "a\x00.py", "reason": "\ud800"}]}, None),
    "huge security-severity": (_sarif({"properties": {"security-severity": 10**400}}), None),
    "huge semgrep security-severity": ({"results": [{"check_id": "x", "path": "a.py", "start": {"line": 1},
                                                     "extra": {"metadata": {"security-severity": -(10**400)}}}]}, None),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_what_the_fuzzing_found(tmp_path, fuzz_repository, name):
    repository, _ = fuzz_repository
    document, error = REGRESSIONS[name]
    path = tmp_path / "scan.json"
    path.write_bytes(_dumps(document, ensure_ascii=True))
    if error:
        with pytest.raises(services.ScanImportError) as excinfo:
            services.import_scan(repository=repository, path=path)
        assert error in str(excinfo.value)
        assert not Finding.objects.filter(repository=repository).exists()
        return
    scan = services.import_scan(repository=repository, path=path)
    scan.refresh_from_db()
    assert scan.status == Scan.Status.COMPLETED
    assert "\x00" not in scan.tool and all("\x00" not in warning for warning in scan.warnings)
    assert set(Finding.objects.filter(repository=repository).values_list("tool", flat=True)) <= {
        *scan.tool.split(", ")}
