"""Test vectors that pin the fingerprint down: changing it would re-file every user's issues."""

import pytest

from findings.fingerprint import canonical_path, compute_fingerprint, normalize_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("src/app.py", "src/app.py"),
        ("./src/app.py", "src/app.py"),
        ("././src/app.py", "src/app.py"),
        ("src\\lib\\app.py", "src/lib/app.py"),
        ("/src/app.py", "src/app.py"),
        ("src//lib/./app.py", "src/lib/app.py"),
        ("src/lib/../app.py", "src/app.py"),
        ("src/%25doc.txt", "src/%doc.txt"),
        ("Node%20Goat/app.js", "Node Goat/app.js"),
        ("file:///src/app.py", "src/app.py"),
        ("file:///tmp/scan/Node%20Goat/app.js", "tmp/scan/Node Goat/app.js"),
        ("src%5Capp.py", "src/app.py"),
        ("  src/app.py ", "src/app.py"),
        ("", ""),
        (None, ""),
        (".", ""),
    ],
)
def test_normalize_path(raw, expected):
    assert normalize_path(raw) == expected


def test_normalize_decodes_exactly_once():
    assert normalize_path("a%2541.txt") == "a%41.txt"
    # canonical_path is what the fingerprint applies: idempotent, never decodes again.
    assert canonical_path("a%41.txt") == "a%41.txt"
    assert canonical_path(canonical_path("./x\\y/../z.py")) == canonical_path("./x\\y/../z.py") == "x/z.py"


@pytest.mark.parametrize(
    ("parts", "digest"),
    [
        ((1, "src/app.py", 10, "B608"), "3ac9f8fe55fb4252501abdeeea2a2d9e5e7f52d3aa72fe0c91f29ba8be4e04c5"),
        ((42, "bad/libuser.py", 53, "B608"), "c3cd057685b65128f06c517e9247f9591b477acf48da01130b4e18b74f122a6e"),
        (
            (3, "app/routes/index.js", 7, "security/detect-non-literal-fs-filename"),
            "3c18f25a8347c4a7b67d0e8f75506da4805aff26d3338003741f0e83f0d7edec",
        ),
        ((1, "src/%doc.txt", None, "RULE"), "34edddc8161703ac36aa7fd7ac9c862caac633031e5e421ddccb5f2efb4ee0af"),
        ((5, "", None, "DKL-DI-0006"), "3bc8433a10279016ba27b31d58859cee4b7ba71d7fb7986bc2bad013d4f3e167"),
    ],
)
def test_pinned_vectors(parts, digest):
    assert compute_fingerprint(*parts) == digest


def test_documented_construction():
    """sha256 over "len:part" for (repository id, path, line or 0, rule), joined by U+001F."""
    import hashlib

    payload = "\x1f".join(f"{len(p)}:{p}" for p in ["42", "bad/libuser.py", "53", "B608"])
    assert compute_fingerprint(42, "./bad/libuser.py", 53, "B608") == hashlib.sha256(payload.encode()).hexdigest()


def test_same_finding_same_fingerprint_across_path_spellings():
    base = compute_fingerprint(7, "src/app.py", 12, "py/sql-injection")
    assert compute_fingerprint(7, "./src/app.py", 12, "py/sql-injection") == base
    assert compute_fingerprint(7, "src\\app.py", 12, "py/sql-injection") == base
    assert compute_fingerprint(7, "src/lib/../app.py", 12, "py/sql-injection") == base


@pytest.mark.parametrize(
    "other",
    [
        (8, "src/app.py", 12, "py/sql-injection"),  # another repository
        (7, "src/app2.py", 12, "py/sql-injection"),  # another file
        (7, "src/app.py", 13, "py/sql-injection"),  # another line
        (7, "src/app.py", 12, "py/sql-injection2"),  # another rule
        (7, "src/app.py", None, "py/sql-injection"),  # no line
    ],
)
def test_different_findings_differ(other):
    assert compute_fingerprint(*other) != compute_fingerprint(7, "src/app.py", 12, "py/sql-injection")


def test_join_is_unambiguous():
    # Moving characters between parts must not give the same digest.
    assert compute_fingerprint(1, "a.py", 1, "1:x") != compute_fingerprint(1, "a.py1", None, ":x")
    assert compute_fingerprint(1, "a\x1fb", 1, "r") != compute_fingerprint(1, "a", 1, "b\x1fr")
    assert compute_fingerprint(11, "a.py", 1, "r") != compute_fingerprint(1, "1a.py", 1, "r")


def test_fingerprint_is_sha256_hex():
    value = compute_fingerprint(1, "src/app.py", 10, "B608")
    assert len(value) == 64 and int(value, 16) >= 0
