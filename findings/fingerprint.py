"""The finding fingerprint: sha256 of repository id, normalised path, start line and rule id.

Pinned by test vectors in tests/findings/test_fingerprint.py: changing anything here re-files
every issue of every user, so don't.
"""

from __future__ import annotations

import hashlib
import posixpath
from urllib.parse import unquote

_SEPARATOR = "\x1f"  # ASCII unit separator, plus a length prefix per part: the join is unambiguous


def canonical_path(path: str | None) -> str:
    """Relative, forward slashes, no leading ./ or /, no empty, '.' or 'x/..' segments.

    Idempotent and never percent-decodes: a plain file path (Bandit, Semgrep) is taken literally.
    """
    if not path:
        return ""
    text = path.strip().replace("\\", "/")
    text = posixpath.normpath(text) if text else ""
    text = text.lstrip("/")
    while text.startswith("./"):
        text = text[2:]
    return "" if text in (".", "") else text


def normalize_path(uri: str | None) -> str:
    """A SARIF URI reference (relative or file://) as a canonical path, percent-decoded exactly once.

    >>> normalize_path("./src%5Capp%20x/../main.py")
    'src/main.py'
    """
    if not uri:
        return ""
    text = uri.strip()
    if text.lower().startswith("file://"):
        text = text[len("file://") :]
    return canonical_path(unquote(text))


def compute_fingerprint(repository_id: int, file_path: str | None, start_line: int | None, rule_id: str) -> str:
    """`file_path` is a path as the importers give it (already decoded); it is canonicalised, not decoded."""
    parts = [str(int(repository_id)), canonical_path(file_path), str(start_line or 0), rule_id or ""]
    payload = _SEPARATOR.join(f"{len(p)}:{p}" for p in parts)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
