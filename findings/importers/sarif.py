"""Streaming SARIF 2.1.0 importer, plus the streaming JSON reader that the bandit and semgrep importers share.

Reading
-------
Memory stays bounded whatever the file size: the file is read in 1 MiB chunks and only one JSON value at a time
(one result, one artifact, one run's ``tool`` object, ...) is decoded, by the standard library's C decoder
(``json``'s scanner), into Python objects. The containers around them (the log object, ``runs``, each run object,
``results``, ``artifacts``) are walked by :class:`JsonStream` without ever being materialised.

Two passes are made over a SARIF file:

1. the structure pass (:class:`SarifScan` constructor) checks the JSON syntax of the whole file and the SARIF
   structure, and collects per run what a result needs to be understood (``tool`` with its rules, ``invocations``,
   ``originalUriBaseIds``, ``versionControlProvenance``, artifact locations, the absolute URIs used) and the byte
   offset where the run's ``results`` array starts -- those properties may come after ``results`` in the file;
2. the results pass (:meth:`SarifScan.findings`) seeks back to each ``results`` array and converts the results one
   by one.

ijson (yajl2_c) was measured for this job and not used: on a 200 MB / 100,000-result log its ``items()`` alone takes
2.6 s and each further prefix-skipping pass 1.5 s (yajl tokenises at ~135 MB/s here), so two passes cannot reach
30,000 results/s; ``json``'s scanner decodes the same results in 0.9 s.

Limits (each raises :class:`ScanFormatError` naming the JSON path): a string longer than 1 MiB (UTF-8), nesting deeper
than 64 levels, a single value (one result, the ``tool`` object, ...) larger than 32 MiB.

SARIF decisions (see README-style notes in the docstrings of the functions concerned)
-------------------------------------------------------------------------------------
* Skipped results: ``kind`` pass / informational / notApplicable (kept: fail, absent, open, review -- the last two
  still need a human); suppressed results (a suppression whose ``status`` is absent or ``accepted``, unless another
  one is ``underReview``, as the SARIF tutorials' viewer samples do); ``baselineState`` ``absent`` (the result is gone).
* Severity: numeric ``security-severity`` (result properties, else rule properties) with GitHub's thresholds;
  semgrep's words (``CRITICAL``, ``HIGH``, ...) in that property are accepted too. Otherwise the level per the spec
  (result.level; kind other than fail -> none; invocation ruleConfigurationOverrides; rule defaultConfiguration;
  warning), mapped error->high, warning->medium, note->low, none->info.
* Results without ruleId/ruleIndex/rule (gitleaks 7): the rule is the run's rule whose id (or name) the message text
  starts with, the longest one winning; failing that the rule id is the message's first line (max 200 chars).
* Paths: see :class:`PathResolver`. Lines: region.startLine (0 or absent -> None), endLine (default startLine).
  Snippet: region.snippet.text, else contextRegion.snippet.text, cut at 4000 characters.
* A run without ``tool`` (or ``tool.driver.name``) is rejected: the tool name is what resolves the findings of a scan.
* A run that says it failed (``executionSuccessful: false``, an error notification, no ``results``) still yields its
  results, but the scan is flagged incomplete (``SarifScan.complete`` / ``problems``).
* Texts are made storable (:func:`clean`): NUL and lone surrogates, both valid JSON escapes, become U+FFFD.
"""

from __future__ import annotations

import codecs
import json
import math
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from findings.fingerprint import canonical_path, normalize_path
from findings.importers.base import ParsedFinding, ScanFormatError

MAX_STRING_BYTES = 1 << 20  # one JSON string, UTF-8 encoded
MAX_DEPTH = 64  # nested objects/arrays, counting the top-level value as 1
MAX_VALUE_CHARS = 32 << 20  # one decoded value (a result, the tool object, ...) in the source text
MAX_LINE = 2**31 - 1  # the largest line number a finding can store
SNIPPET_MAX_CHARS = 4000
MESSAGE_MAX_CHARS = 1 << 20  # a message built from a template and arguments is cut there
CHUNK_SIZE = 1 << 20

_WS = re.compile(r"[ \t\n\r]*").match
_SCAN = json.JSONDecoder().scan_once
_SCANSTRING = json.decoder.scanstring
# Below this many source characters a value can't hold a string over MAX_STRING_BYTES (a character is <= 4 bytes).
_STRING_CHECK_CHARS = MAX_STRING_BYTES // 4

_JSON_REASONS = {
    "Expecting value": "expected a value",
    "Expecting ',' delimiter": "expected ',' or a closing bracket",
    "Expecting ':' delimiter": "expected ':'",
    "Expecting property name enclosed in double quotes": "expected a property name in double quotes",
    "Invalid control character at": "invalid control character in a string",
    "Invalid \\escape": "invalid escape in a string",
    "Invalid \\uXXXX escape": "invalid \\uXXXX escape in a string",
    "Unterminated string starting at": "unterminated string",
}


def _p(path: Any) -> str:
    """A JSON path is a str, or a callable making it: paths are built only when an error is raised."""
    return path() if callable(path) else path


class At:
    """Lazy JSON path: ``At(parent, 3)`` is 'parent[3]', ``At(parent, "key")`` is 'parent.key'."""

    __slots__ = ("parent", "step")

    def __init__(self, parent: Any, step: int | str) -> None:
        self.parent = parent
        self.step = step

    def __call__(self) -> str:
        step = self.step
        return f"{_p(self.parent)}[{step}]" if isinstance(step, int) else f"{_p(self.parent)}.{short(step)}"


def got(value: Any) -> str:
    """'an object', 'a list', ... for "expected X, got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def short(value: Any) -> str:
    """A value for a one-line error message: control characters escaped, at most 60 characters."""
    text = value if isinstance(value, str) else json.dumps(value)
    if not text.isprintable():
        text = json.dumps(text)[1:-1]
    return text if len(text) <= 60 else text[:57] + "..."


def _join_path(path: Any, parts: list) -> str:
    out = [_p(path)]
    for part in parts:
        out.append(f"[{part}]" if isinstance(part, int) else f".{short(part)}")
    return "".join(out)


def _check_value(value: Any, depth: int, path: Any) -> None:
    """Raise if `value` (a container at nesting `depth`) holds a string over the size limit or nests too deep."""
    parts: list = []

    def walk(node: Any, level: int) -> None:
        if level > MAX_DEPTH:
            raise ScanFormatError(f"{_join_path(path, parts)}: nesting deeper than {MAX_DEPTH} levels")
        is_dict = type(node) is dict
        for key, child in node.items() if is_dict else enumerate(node):
            if is_dict and len(key) > _STRING_CHECK_CHARS and _utf8_len(key) > MAX_STRING_BYTES:
                raise ScanFormatError(f"{_join_path(path, parts)}: property name longer than 1 MiB")
            kind = type(child)
            if kind is str:
                if len(child) > _STRING_CHECK_CHARS and _utf8_len(child) > MAX_STRING_BYTES:
                    parts.append(key)
                    raise ScanFormatError(f"{_join_path(path, parts)}: text longer than 1 MiB")
            elif kind is dict or kind is list:
                parts.append(key)
                walk(child, level + 1)
                parts.pop()

    kind = type(value)
    if kind is str:
        if _utf8_len(value) > MAX_STRING_BYTES:
            raise ScanFormatError(f"{_p(path)}: text longer than 1 MiB")
    elif kind is dict or kind is list:
        walk(value, depth)


class JsonStream:
    """Forward-only pull reader over a UTF-8 JSON document in a binary file.

    Containers are walked with :meth:`enter` + :meth:`members` / :meth:`elements`; any other value is decoded whole
    with :meth:`read` (or discarded with :meth:`skip`). ``depth`` arguments are the nesting level of the value about to
    be read (the top-level value is 1). Errors are :class:`ScanFormatError`: "invalid JSON at byte N: reason" for
    syntax, "<path>: ..." for limits and types.
    """

    def __init__(self, f: Any, offset: int = 0, chunk_size: int | None = None) -> None:
        self._f = f
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._buf = ""
        self._pos = 0
        self._chunk = chunk_size or CHUNK_SIZE
        self._eof = False
        f.seek(offset)
        if offset == 0 and f.read(3) != b"\xef\xbb\xbf":  # tolerate a UTF-8 byte order mark
            f.seek(0)
        self._base = f.tell()  # file offset of self._buf[0]
        self._read_to = self._base  # file offset of the next byte to read

    # -- buffer -------------------------------------------------------------------------------------------------
    def byte_offset(self, pos: int | None = None) -> int:
        """File offset of buffer position `pos` (default: the current position)."""
        pos = self._pos if pos is None else pos
        return self._base + _utf8_len(self._buf[:pos])

    def _fill(self) -> bool:
        """Drop the consumed text, append at least one more chunk. False at end of file."""
        if self._eof:
            return False
        if self._pos:
            self._base += _utf8_len(self._buf[: self._pos])
            self._buf = self._buf[self._pos :]
            self._pos = 0
        data = self._f.read(max(self._chunk, len(self._buf)))  # grows geometrically for a big value
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise ScanFormatError(f"invalid UTF-8 at byte {self._read_to - pending + exc.start}") from None
        self._read_to += len(data)
        if not data:
            self._eof = True
        self._buf += text
        return True

    def _grow(self, path: Any) -> None:
        if len(self._buf) - self._pos > MAX_VALUE_CHARS:
            raise ScanFormatError(f"{_p(path)}: value larger than {MAX_VALUE_CHARS >> 20} MiB")
        self._fill()

    def peek(self) -> str:
        """Skip whitespace; the next character, '' at end of file."""
        while True:
            buf = self._buf
            pos = _WS(buf, self._pos).end()
            self._pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self._fill():
                return ""

    # -- errors -------------------------------------------------------------------------------------------------
    def syntax_error(self, reason: str, pos: int | None = None) -> ScanFormatError:
        return ScanFormatError(f"invalid JSON at byte {self.byte_offset(pos)}: {reason}")

    def _eof_error(self) -> ScanFormatError:
        return self.syntax_error("unexpected end of file", len(self._buf))

    def _incomplete(self, exc: json.JSONDecodeError) -> bool:
        """Could more input turn this decoding error into a success?"""
        return not self._eof and (exc.msg.startswith("Unterminated string") or exc.pos >= len(self._buf) - 8)

    def _decode_error(self, exc: json.JSONDecodeError) -> ScanFormatError:
        reason = _JSON_REASONS.get(exc.msg, exc.msg[:1].lower() + exc.msg[1:])
        if self._eof and exc.msg.startswith("Unterminated string"):
            reason += " (the file ends inside it)"
        elif self._eof and exc.pos >= len(self._buf):
            return self._eof_error()
        return self.syntax_error(reason, exc.pos)

    # -- values -------------------------------------------------------------------------------------------------
    def read(self, path: Any, depth: int, check: bool = True) -> Any:
        """Decode the next value. With `check`, apply the string-size and nesting limits."""
        if not self.peek():
            raise self._eof_error()
        while True:
            buf = self._buf
            start = self._pos
            try:
                value, end = _SCAN(buf, start)
            except StopIteration as exc:  # no value at exc.value (maybe nested, maybe a literal cut: "tr")
                where = exc.value if isinstance(exc.value, int) else start
                if not self._eof and where >= len(buf) - 8:
                    self._grow(path)
                    continue
                raise self.syntax_error("expected a value", where) from None
            except json.JSONDecodeError as exc:
                if self._incomplete(exc):
                    self._grow(path)
                    continue
                raise self._decode_error(exc) from None
            except RecursionError:
                raise ScanFormatError(f"{_p(path)}: nesting deeper than {MAX_DEPTH} levels") from None
            if not self._eof and len(buf) - end < 3 and (end == len(buf) or type(value) in (int, float)):
                self._grow(path)  # a number cut by the buffer end ("12", "-0.", "1e-") may go on in the next chunk
                continue
            break
        self._pos = end
        if check:
            size = end - start
            if size > _STRING_CHECK_CHARS or (
                size > MAX_DEPTH - depth
                and depth - 1 + buf.count("{", start, end) + buf.count("[", start, end) > MAX_DEPTH
            ):
                _check_value(value, depth, path)
        return value

    def skip(self, path: Any, depth: int) -> None:
        """Consume the next value, one level streamed (so a big ignored array costs no more memory than its items)."""
        char = self.peek()
        if char == "{":
            self._pos += 1
            for key in self.members(path):
                self.read(At(path, key), depth + 1)
        elif char == "[":
            self._pos += 1
            for index in self.elements(path):
                self.read(At(path, index), depth + 1)
        else:
            self.read(path, depth)

    def enter(self, kind: str, path: Any, depth: int) -> None:
        """Consume the '{' or '[' opening the next value; a type error naming `path` if it is something else."""
        char = self.peek()
        if char == kind:
            if depth > MAX_DEPTH:
                raise ScanFormatError(f"{_p(path)}: nesting deeper than {MAX_DEPTH} levels")
            self._pos += 1
            return
        found = {"{": "an object", "[": "a list"}.get(char) or got(self.read(path, depth))
        raise ScanFormatError(f"{_p(path)}: expected {'an object' if kind == '{' else 'a list'}, got {found}")

    def _key(self, path: Any) -> str:
        while True:
            buf = self._buf
            try:
                key, end = _SCANSTRING(buf, self._pos + 1)
            except json.JSONDecodeError as exc:
                if self._incomplete(exc):
                    self._grow(path)
                    continue
                raise self._decode_error(exc) from None
            self._pos = end
            if len(key) > _STRING_CHECK_CHARS and _utf8_len(key) > MAX_STRING_BYTES:
                raise ScanFormatError(f"{_p(path)}: property name longer than 1 MiB")
            return key

    def members(self, path: Any) -> Iterator[str]:
        """After :meth:`enter` '{': yield each property name; the caller must consume its value before the next."""
        char = self.peek()
        if char == "}":
            self._pos += 1
            return
        while True:
            if char != '"':
                raise self._eof_error() if not char else self.syntax_error("expected a property name in double quotes")
            key = self._key(path)
            char = self.peek()
            if char != ":":
                raise self._eof_error() if not char else self.syntax_error("expected ':' after a property name")
            self._pos += 1
            yield key
            char = self.peek()
            if char == ",":
                self._pos += 1
                char = self.peek()
            elif char == "}":
                self._pos += 1
                return
            else:
                raise self._eof_error() if not char else self.syntax_error("expected ',' or '}' after an object member")

    def elements(self, path: Any) -> Iterator[int]:
        """After :meth:`enter` '[': yield each index; the caller must consume the element before the next."""
        char = self.peek()
        if char == "]":
            self._pos += 1
            return
        index = 0
        while True:
            if not char:
                raise self._eof_error()
            yield index
            index += 1
            char = self.peek()
            if char == ",":
                self._pos += 1
                char = "?"  # the element's read() skips the whitespace and rejects a ']' (trailing comma)
            elif char == "]":
                self._pos += 1
                return
            else:
                raise self._eof_error() if not char else self.syntax_error("expected ',' or ']' after a list element")

    def finish(self) -> None:
        """Only whitespace may follow the top-level value."""
        if self.peek():
            raise self.syntax_error("unexpected data after the top-level value")


# -- severities ---------------------------------------------------------------------------------------------------
SEVERITY_WORDS = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "moderate": "medium",
    "low": "low",
    "info": "info",
    "informational": "info",
}
LEVEL_SEVERITY = {"error": "high", "warning": "medium", "note": "low", "none": "info"}
_LEVELS = "none, note, warning, error"


def security_severity(value: Any) -> str | None:
    """GitHub code scanning's mapping of a CVSS-like score (number or numeric string) to a severity; None if the
    value is absent or unusable. Severity words (semgrep writes 'CRITICAL', 'HIGH', ...) are accepted too."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        word = SEVERITY_WORDS.get(value.strip().lower())
        if word:
            return word
        try:
            value = float(value)
        except ValueError:
            return None
    # The range test first: math.isfinite() overflows on a huge int (10**400); NaN fails the range test too.
    if not isinstance(value, (int, float)) or not 0 <= value <= 10 or not math.isfinite(value):
        return None
    if value >= 9.0:
        return "critical"
    if value >= 7.0:
        return "high"
    if value >= 4.0:
        return "medium"
    return "low" if value > 0 else "info"


def clean(text: str) -> str:
    """Text that can be stored: NUL and lone surrogates (valid JSON escapes that PostgreSQL and UTF-8 reject)
    become U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def make_finding(
    tool: str,
    rule_id: str,
    rule_title: str,
    severity: str,
    message: str,
    file_path: str,
    start_line: int | None,
    end_line: int | None,
    snippet: str,
    fingerprints: dict[str, str],
    help_uri: str,
) -> ParsedFinding:
    """ParsedFinding with every text cleaned (see clean())."""
    probe = "".join(
        (tool, rule_id, rule_title, message, file_path, snippet, help_uri, *fingerprints, *fingerprints.values())
    )
    if probe.isascii() and "\x00" not in probe:  # the common case: nothing to clean
        return ParsedFinding(
            tool=tool,
            rule_id=rule_id,
            rule_title=rule_title,
            severity=severity,
            message=message,
            file_path=file_path,
            start_line=start_line,
            end_line=end_line,
            snippet=snippet,
            partial_fingerprints=fingerprints,
            help_uri=help_uri,
        )
    return ParsedFinding(
        tool=clean(tool),
        rule_id=clean(rule_id),
        rule_title=clean(rule_title),
        severity=severity,
        message=clean(message),
        file_path=clean(file_path),
        start_line=start_line,
        end_line=end_line,
        snippet=clean(snippet),
        partial_fingerprints={clean(k): clean(v) for k, v in fingerprints.items()} if fingerprints else {},
        help_uri=clean(help_uri),
    )


def truncate_snippet(text: str) -> str:
    return text if len(text) <= SNIPPET_MAX_CHARS else text[: SNIPPET_MAX_CHARS - 1] + "\u2026"


# -- paths --------------------------------------------------------------------------------------------------------
_DRIVE = re.compile(r"/?[A-Za-z]:/")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# Checkout folders of well-known CI systems and of the documented `docker run -v $PWD:/src` scanner images.
_CI_ROOT = re.compile(
    r"/github/workspace/|/home/runner/work/[^/]+/[^/]+/|/__w/[^/]+/[^/]+/|/home/vsts/work/\d+/s/"
    r"|/home/circleci/project/|/home/travis/build/[^/]+/[^/]+/|/opt/atlassian/pipelines/agent/build/"
    r"|/var/lib/jenkins/workspace/[^/]+/|/drone/src/|/workspace/|/src/|/code/"
)


_SLASHES = ("/", "\\")


def is_absolute_uri(uri: str) -> bool:
    """A file: URI or an absolute POSIX / Windows path (which some tools put in 'uri')."""
    return uri[:5].lower() == "file:" or uri[:1] in ("/", "\\") or bool(_DRIVE.match(uri.replace("\\", "/")))


def fs_path(uri: str) -> str:
    """Decoded absolute path of a file: URI or absolute path: '/tmp/scan/Node Goat/app/x.js', '/C:/src/a.cs'."""
    text = uri
    if text[:5].lower() == "file:":
        text = text[5:]
        if text.startswith("//"):  # authority: empty or localhost; a UNC host is kept as a first segment
            rest = text[2:]
            slash = rest.find("/")
            host, text = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
            if host and host.lower() != "localhost":
                text = "/" + host + text
    text = unquote(text).replace("\\", "/")
    trailing = text.endswith("/")
    text = posixpath.normpath("/" + text.lstrip("/"))  # also collapses '//' and resolves '..'
    return text + "/" if trailing and text != "/" else text


def _dir_key(path: str) -> str:
    """Comparison form of an absolute path: Windows drive paths compare case-insensitively."""
    return path.lower() if path.isascii() and _DRIVE.match(path) else path


class CommonDir:
    """Longest common directory of absolute paths, and whether they span two or more directories."""

    __slots__ = ("parts", "first", "last", "several")

    def __init__(self) -> None:
        self.parts: list[str] | None = None
        self.first: str | None = None
        self.last: str | None = None
        self.several = False

    def add(self, path: str) -> None:
        directory = path.rsplit("/", 1)[0]
        if directory == self.last:
            return
        self.last = directory
        if self.parts is None:
            self.first = directory
            self.parts = directory.split("/")
            return
        if directory != self.first:
            self.several = True
        segments = directory.split("/")
        parts = self.parts
        n = min(len(parts), len(segments))
        k = 0
        while k < n and _dir_key(parts[k]) == _dir_key(segments[k]):
            k += 1
        del parts[k:]

    def root(self) -> str | None:
        """The common directory (with a trailing '/'), if the paths span several directories and share more than '/'."""
        if not self.several or not self.parts or len(self.parts) < 2:
            return None
        return "/".join(self.parts) + "/"


class PathResolver:
    """Turns a SARIF artifact location (uri + uriBaseId) into a repository-relative, normalised path.

    * Relative uri: resolved through the chain of ``run.originalUriBaseIds``; the chain stops at the checkout root,
      which is a base mapped by ``versionControlProvenance[].mappedTo``, a base without a ``uri`` (e.g. REPOROOT in the
      spec's example), a base the run doesn't define (%SRCROOT%, SRCROOT, ROOTPATH, ...) or a base whose uri is
      absolute (e.g. SRCROOT = file:///C:/project/).
      So 'io/kb.c' under SRCROOT = 'src/' under REPOROOT -> 'src/io/kb.c'.
    * Absolute uri (file:///..., /abs/path, C:\\...): the first of these roots that contains it is stripped:
      1. ``source_root`` given by the caller;
      2. absolute uris of the VCP-mapped bases, then of the other originalUriBaseIds (shortest first: the repository
         root rather than a source folder below it);
      3. ``invocations[].workingDirectory`` (tools are normally run from the checkout root);
      4. checkout folders of well-known CI systems and scanner docker images (/github/workspace/,
         /home/runner/work/R/R/, /src/ as in ``docker run -v $PWD:/src``, ...);
      5. the longest common directory of all absolute uris of the run (``run.artifacts`` and the results' primary
         locations) -- only when they span at least two directories: with a single directory (one file, or all
         findings in one folder) the common directory is most likely a folder inside the repository, and stripping
         it would lose path segments. It is right when the scan reached files in the checkout root or in two
         top-level folders, as an ESLint run on app/, config/ and server.js does; tools that list every analysed file
         in run.artifacts make it reliable.
      If none applies, the path is kept whole (less the leading '/'): stable across scans from the same folder,
      never wrong, just long.
    * A non-file absolute uri (https://...) is made relative to an absolute base uri that prefixes it (e.g. a VCP-mapped
      https://github.com/o/r/blob/SHA/), else to a VCP repositoryUri's ``/blob/<revision>/``; else there is no file.
    """

    def __init__(
        self,
        bases: dict[str, tuple[str | None, str | None]] | None = None,
        vcp_bases: set[str] | None = None,
        vcp_repos: list[str] | None = None,
        working_dirs: list[str] | None = None,
        common: CommonDir | None = None,
        source_root: str | None = None,
    ) -> None:
        self.bases = bases or {}
        self.vcp_bases = vcp_bases or set()
        self.vcp_repos = [r.rstrip("/") + "/blob/" for r in (vcp_repos or [])]
        roots: list[str] = []
        if source_root:
            roots.append(self._as_dir(source_root))
        absolute = [(name in self.vcp_bases, self._absolute_base(name)) for name in self.bases]
        file_bases = [(mapped, path) for mapped, path in absolute if path and path.startswith("/")]
        roots += [path for mapped, path in sorted(file_bases, key=lambda x: (not x[0], len(x[1])))]
        roots += sorted((self._as_dir(d) for d in working_dirs or ()), key=len, reverse=True)
        self.roots = [(_dir_key(r), len(r)) for r in roots]
        self.strong_roots = self.roots[: (1 if source_root else 0) + sum(1 for m, _ in file_bases if m)]
        common_root = common.root() if common else None
        self.common_root = (_dir_key(common_root), len(common_root)) if common_root else None
        self.url_bases = sorted(
            (b[1] for b in absolute if b[1] and not b[1].startswith("/")), key=len, reverse=True
        )  # e.g. https://github.com/o/r/blob/sha/
        self._cache: dict[tuple[str, str | None], str] = {}
        self._prefixes: dict[str, str] = {}

    @staticmethod
    def _as_dir(uri: str) -> str:
        path = fs_path(uri)
        return path if path.endswith("/") else path + "/"

    def _absolute_base(self, name: str, _seen: frozenset = frozenset()) -> str | None:
        """The absolute form of base `name`: a decoded directory path ('/x/y/') for file bases, the uri itself for
        other schemes; None if it isn't absolute."""
        uri, parent = self.bases.get(name, (None, None))
        if uri is None or name in _seen:
            return None
        if is_absolute_uri(uri):
            return self._as_dir(uri)
        if _SCHEME.match(uri):
            return uri if uri.endswith("/") else uri + "/"
        if parent is None:
            return None
        above = self._absolute_base(parent, _seen | {name})
        if above is None:
            return None
        if above.startswith("/"):
            joined = posixpath.normpath(above + unquote(uri).replace("\\", "/"))
            return joined if joined.endswith("/") else joined + "/"
        return above + (uri if uri.endswith("/") else uri + "/")

    def strip_root(self, path: str, strong_only: bool = False) -> str | None:
        key = _dir_key(path if path.endswith("/") else path + "/")
        for root, size in self.strong_roots if strong_only else self.roots:
            if key.startswith(root):
                return path[size:]
        if strong_only:
            return None
        match = _CI_ROOT.match(path)
        if match:
            return path[match.end() :]
        if self.common_root and key.startswith(self.common_root[0]):
            return path[self.common_root[1] :]
        return path

    def resolve(self, uri: str | None, base: str | None = None) -> str:
        if not uri:
            return ""
        cache_key = (uri, base)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        path = self._resolve(uri, base)
        if len(self._cache) >= 8192:
            self._cache.clear()
        self._cache[cache_key] = path
        return path

    def resolve_plain(self, name: str) -> str:
        """A plain file path as bandit and semgrep write them: canonicalised, never percent-decoded; an absolute one
        loses its checkout root."""
        if is_absolute_uri(name) and name[:5].lower() != "file:":
            text = re.sub(r"/{2,}", "/", name.replace("\\", "/"))
            return canonical_path(self.strip_root(text if text.startswith("/") else "/" + text))
        return canonical_path(name)

    def _resolve(self, uri: str, base: str | None) -> str:
        if is_absolute_uri(uri):
            return canonical_path(self.strip_root(fs_path(uri)))
        if _SCHEME.match(uri):
            for prefix in self.url_bases:
                if uri.startswith(prefix):
                    return normalize_path(uri[len(prefix) :])
            for prefix in self.vcp_repos:
                if uri.startswith(prefix):
                    return normalize_path(uri[len(prefix) :].partition("/")[2])
            return ""
        if base is None:
            return normalize_path(uri)
        prefix = self._prefixes.get(base)
        if prefix is None:
            prefix = self._prefixes[base] = self._base_prefix(base)
        return normalize_path(prefix + uri if prefix else uri)

    def _base_prefix(self, base: str) -> str:
        """The URI-encoded path, from the checkout root, of base `base` ('' or ending with '/')."""
        parts: list[str] = []
        seen: set[str] = set()
        name: str | None = base
        while name is not None and name not in self.vcp_bases and name not in seen:
            seen.add(name)
            base_uri, parent = self.bases.get(name, (None, None))
            if base_uri is None:
                break
            if is_absolute_uri(base_uri):
                # The base itself is the root, unless a stronger root (caller's, VCP-mapped) sits above it.
                above = self.strip_root(self._as_dir(base_uri), strong_only=True)
                if above:
                    parts.append(quote(above, safe="/"))
                break
            if _SCHEME.match(base_uri):
                break
            parts.append(base_uri)
            name = parent
        prefix = "/".join(p.strip("/") for p in reversed(parts) if p.strip("/"))
        return prefix + "/" if prefix else ""


# -- SARIF --------------------------------------------------------------------------------------------------------
_SKIPPED_KINDS = frozenset({"pass", "informational", "notApplicable"})
_KINDS = frozenset({"pass", "informational", "notApplicable", "fail", "open", "review"})
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\d+)\}")


def format_message(template: str, arguments: list[str]) -> str:
    """Render a SARIF message string: {n} -> arguments[n], '{{' / '}}' -> '{' / '}'; cut at MESSAGE_MAX_CHARS."""
    if "{" not in template and "}" not in template:
        return template
    out: list[str] = []
    size = 0
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        number = match.group(1)
        if number is None:
            piece = match.group(0)[0]
        else:
            index = int(number)
            piece = arguments[index] if index < len(arguments) else match.group(0)
        literal = template[last : match.start()]
        out.append(literal)
        out.append(piece)
        size += len(literal) + len(piece)
        last = match.end()
        if size > MESSAGE_MAX_CHARS:
            break
    else:
        out.append(template[last:])
    text = "".join(out)
    return text if len(text) <= MESSAGE_MAX_CHARS else text[: MESSAGE_MAX_CHARS - 1] + "\u2026"


def _text_of(obj: Any) -> str:
    """multiformatMessageString / message .text, else .markdown, else ''."""
    if isinstance(obj, dict):
        for key in ("text", "markdown"):
            value = obj.get(key)
            if isinstance(value, str) and value:
                return value
    return ""


def _expect(value: Any, kind: type, path: Any) -> Any:
    if type(value) is not kind or (kind is int and isinstance(value, bool)):
        name = {dict: "an object", list: "a list", str: "a string", int: "an integer", bool: "a boolean"}[kind]
        raise ScanFormatError(f"{_p(path)}: expected {name}, got {got(value)}")
    return value


def _opt(obj: dict, key: str, kind: type, path: Any) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not kind or (kind is int and isinstance(value, bool)):
        _expect(value, kind, lambda: f"{_p(path)}.{key}")
    return value


def check_line(value: int | None, path: Any) -> int | None:
    """A line number that can be stored (findings' lines are 32-bit database integers)."""
    if value is not None and value > MAX_LINE:
        raise ScanFormatError(f"{_p(path)}: {short(value)} is larger than any line number (at most {MAX_LINE})")
    return value


def typed(obj: dict, key: str, kind: type, path: Any, required: bool = False) -> Any:
    """obj[key] checked against `kind` (None if absent, unless `required`); errors name the path."""
    value = obj.get(key)
    if value is None:
        if required:
            raise ScanFormatError(f"{_p(path)}.{key}: required")
        return None
    if type(value) is not kind:
        _expect(value, kind, At(path, key))
    return value


def _level(value: Any, path: Any) -> str | None:
    if value is None:
        return None
    if type(value) is not str or value not in LEVEL_SEVERITY:
        raise ScanFormatError(f"{_p(path)}: expected one of {_LEVELS}; got {short(value)}")
    return value


@dataclass(slots=True)
class Rule:
    id: str
    title: str = ""
    description: str = ""
    help_uri: str = ""
    severity: str | None = None  # from properties.security-severity
    level: str | None = None  # invocation override, else defaultConfiguration.level
    message_strings: dict[str, str] = field(default_factory=dict)


class Component:
    """A tool component (driver or extension) and its rules."""

    def __init__(self, data: dict, path: str) -> None:
        self.name = _expect(data.get("name"), str, f"{path}.name") if "name" in data else None
        if self.name is None:
            raise ScanFormatError(f"{path}.name: required")
        self.guid = data.get("guid")
        self.rules: list[Rule] = []
        self.by_id: dict[str, Rule] = {}
        self.global_strings = self._strings(data.get("globalMessageStrings"), f"{path}.globalMessageStrings")
        for i, item in enumerate(_opt(data, "rules", list, path) or ()):
            rule = self._rule(item, f"{path}.rules[{i}]")
            self.rules.append(rule)
            self.by_id.setdefault(rule.id, rule)
        self._lookups: dict[str, Rule | None] = {}

    @staticmethod
    def _strings(value: Any, path: str) -> dict[str, str]:
        if value is None:
            return {}
        _expect(value, dict, path)
        return {key: text for key, item in value.items() if (text := _text_of(item))}

    def _rule(self, data: Any, path: str) -> Rule:
        _expect(data, dict, path)
        rule_id = data.get("id")
        if rule_id is None:
            raise ScanFormatError(f"{path}.id: required")
        _expect(rule_id, str, f"{path}.id")
        name = _opt(data, "name", str, path) or ""
        short = _text_of(data.get("shortDescription"))
        properties = _opt(data, "properties", dict, path) or {}
        config = _opt(data, "defaultConfiguration", dict, path) or {}
        return Rule(
            id=rule_id,
            title=short or name,
            description=_text_of(data.get("fullDescription")) or short or name,
            help_uri=_opt(data, "helpUri", str, path) or "",
            severity=security_severity(properties.get("security-severity")),
            level=_level(config.get("level"), f"{path}.defaultConfiguration.level"),
            message_strings=self._strings(data.get("messageStrings"), f"{path}.messageStrings"),
        )

    def lookup(self, rule_id: str) -> Rule | None:
        """The rule with this id; for a hierarchical id 'A/B/C' falls back to 'A/B', then 'A' (SARIF 3.27.5)."""
        try:
            return self._lookups[rule_id]
        except KeyError:
            pass
        rule = self.by_id.get(rule_id)
        candidate = rule_id
        while rule is None and "/" in candidate:
            candidate = candidate.rsplit("/", 1)[0]
            rule = self.by_id.get(candidate)
        if len(self._lookups) < 65536:
            self._lookups[rule_id] = rule
        return rule


@dataclass
class _RunMeta:
    index: int
    tool: Any = None
    invocations: Any = None
    bases: Any = None
    vcp: Any = None
    artifacts: list[tuple[str | None, str | None]] = field(default_factory=list)
    results_offset: int | None = None
    results_count: int = 0
    common: CommonDir = field(default_factory=CommonDir)


class Run:
    """Everything about one run that its results are interpreted with."""

    def __init__(self, meta: _RunMeta, source_root: str | None) -> None:
        path = f"runs[{meta.index}]"
        self.index = meta.index
        self.path = path
        if meta.tool is None:
            raise ScanFormatError(f"{path}.tool: required")
        tool = _expect(meta.tool, dict, f"{path}.tool")
        if tool.get("driver") is None:
            raise ScanFormatError(f"{path}.tool.driver: required")
        self.driver = Component(_expect(tool["driver"], dict, f"{path}.tool.driver"), f"{path}.tool.driver")
        self.extensions = [
            Component(_expect(ext, dict, f"{path}.tool.extensions[{i}]"), f"{path}.tool.extensions[{i}]")
            for i, ext in enumerate(_opt(tool, "extensions", list, f"{path}.tool") or ())
        ]
        self.tool_name: str = self.driver.name  # type: ignore[assignment]
        self.results_offset = meta.results_offset
        self.results_count = meta.results_count
        self.artifacts = meta.artifacts
        self.problems: list[str] = []
        if meta.results_offset is None:
            self.problems.append(f"{path}: no results array (the tool did not finish)")
        working_dirs = self._invocations(meta.invocations, path)
        bases = self._bases(meta.bases, f"{path}.originalUriBaseIds")
        vcp_bases, vcp_repos = self._vcp(meta.vcp, f"{path}.versionControlProvenance")
        self.paths = PathResolver(bases, vcp_bases, vcp_repos, working_dirs, meta.common, source_root)
        self._prefixes: list[tuple[str, Rule]] | None = None
        self._by_message: dict[str, Rule | None] = {}

    def _component(self, ref: dict | None, path: Any) -> Component:
        """The tool component a reportingDescriptorReference points into (SARIF 3.52.7): driver by default."""
        if ref is None:
            return self.driver
        _expect(ref, dict, path)
        index = _opt(ref, "index", int, path)
        if index is not None and index >= 0:
            if index >= len(self.extensions):
                raise ScanFormatError(f"{_p(path)}.index: {index} is out of range ({len(self.extensions)} extensions)")
            return self.extensions[index]
        name, guid = ref.get("name"), ref.get("guid")
        for component in [self.driver, *self.extensions]:
            if (guid and component.guid == guid) or (name and component.name == name):
                return component
        return self.driver

    def _invocations(self, value: Any, path: str) -> list[str]:
        working_dirs: list[str] = []
        if value is None:
            return working_dirs
        for i, inv in enumerate(_expect(value, list, f"{path}.invocations")):
            ipath = f"{path}.invocations[{i}]"
            _expect(inv, dict, ipath)
            if inv.get("executionSuccessful") is False:
                self.problems.append(f"{ipath}.executionSuccessful is false")
            for key in ("toolExecutionNotifications", "toolConfigurationNotifications"):
                for note in _opt(inv, key, list, ipath) or ():
                    if isinstance(note, dict) and note.get("level") == "error":
                        text = " ".join(_text_of(note.get("message")).split()) or "(no message)"
                        self.problems.append(f"{ipath}.{key}: error: {text[:1000]}")
            work = _opt(inv, "workingDirectory", dict, ipath)
            if work and isinstance(work.get("uri"), str) and is_absolute_uri(work["uri"]):
                working_dirs.append(work["uri"])
            for j, override in enumerate(_opt(inv, "ruleConfigurationOverrides", list, ipath) or ()):
                opath = f"{ipath}.ruleConfigurationOverrides[{j}]"
                _expect(override, dict, opath)
                level = _level((_opt(override, "configuration", dict, opath) or {}).get("level"), f"{opath}.level")
                descriptor = _opt(override, "descriptor", dict, opath)
                if level is None or not descriptor:
                    continue
                component = self._component(_opt(descriptor, "toolComponent", dict, f"{opath}.descriptor"), opath)
                index = _opt(descriptor, "index", int, f"{opath}.descriptor")
                rule_id = _opt(descriptor, "id", str, f"{opath}.descriptor")
                rule = None
                if index is not None and 0 <= index < len(component.rules):
                    rule = component.rules[index]
                elif rule_id is not None:
                    rule = component.by_id.get(rule_id)
                if rule is not None:
                    rule.level = level
        return working_dirs

    @staticmethod
    def _bases(value: Any, path: str) -> dict[str, tuple[str | None, str | None]]:
        if value is None:
            return {}
        bases = {}
        for name, location in _expect(value, dict, path).items():
            _expect(location, dict, At(path, name))
            bases[name] = (
                _opt(location, "uri", str, At(path, name)),
                _opt(location, "uriBaseId", str, At(path, name)),
            )
        return bases

    @staticmethod
    def _vcp(value: Any, path: str) -> tuple[set[str], list[str]]:
        mapped: set[str] = set()
        repos: list[str] = []
        for i, item in enumerate(_expect(value, list, path) if value is not None else ()):
            _expect(item, dict, f"{path}[{i}]")
            target = _opt(item, "mappedTo", dict, f"{path}[{i}]")
            if target and isinstance(target.get("uriBaseId"), str):
                mapped.add(target["uriBaseId"])
            if isinstance(item.get("repositoryUri"), str):
                repos.append(item["repositoryUri"])
        return mapped, repos

    # -- rules ----------------------------------------------------------------------------------------------------
    def rule_for_message(self, text: str) -> Rule | None:
        """The rule whose id or name the message starts with (followed by a non-word character), longest first."""
        if text in self._by_message:
            return self._by_message[text]
        if self._prefixes is None:
            prefixes = []
            for component in [self.driver, *self.extensions]:
                for rule in component.rules:
                    prefixes.append((rule.id, rule))
                    if rule.title:
                        prefixes.append((rule.title, rule))
            self._prefixes = sorted(prefixes, key=lambda item: len(item[0]), reverse=True)
        found = None
        for prefix, rule in self._prefixes:
            if prefix and text.startswith(prefix) and (len(text) == len(prefix) or not text[len(prefix)].isalnum()):
                found = rule
                break
        if len(self._by_message) < 4096:
            self._by_message[text] = found
        return found

    def artifact(self, index: int, path: Any) -> tuple[str | None, str | None]:
        if not 0 <= index < len(self.artifacts):
            raise ScanFormatError(f"{_p(path)}: {index} is out of range ({len(self.artifacts)} artifacts)")
        return self.artifacts[index]

    # -- results --------------------------------------------------------------------------------------------------
    def convert(self, result: Any, i: int) -> ParsedFinding | None:
        """One SARIF result -> ParsedFinding, or None for a result that isn't actionable."""
        if type(result) is not dict:
            raise ScanFormatError(f"{self.path}.results[{i}]: expected an object, got {got(result)}")
        get = result.get
        kind = get("kind")
        if kind is not None:
            if type(kind) is not str or kind not in _KINDS:
                raise ScanFormatError(
                    f"{self.path}.results[{i}].kind: expected one of {', '.join(sorted(_KINDS))}; got {short(kind)}"
                )
            if kind in _SKIPPED_KINDS:
                return None
        suppressions = get("suppressions")
        if suppressions and _suppressed(suppressions, _Suffix(self.path, i, "")):
            return None
        if get("baselineState") == "absent":
            return None

        # rule
        rule_id = get("ruleId")
        if rule_id is not None and type(rule_id) is not str:
            _expect(rule_id, str, _Suffix(self.path, i, ".ruleId"))
        ref = get("rule")
        component = self.driver
        if ref is not None:
            _expect(ref, dict, _Suffix(self.path, i, ".rule"))
            if rule_id is None:
                rule_id = _opt(ref, "id", str, _Suffix(self.path, i, ".rule"))
            if ref.get("toolComponent") is not None:
                component = self._component(ref["toolComponent"], _Suffix(self.path, i, ".rule.toolComponent"))
        index = get("ruleIndex")
        if index is None and ref is not None:
            index = ref.get("index")
        rule = None
        if index is not None:
            if type(index) is not int:
                _expect(index, int, _Suffix(self.path, i, ".ruleIndex"))
            rules = component.rules
            if 0 <= index < len(rules):
                rule = rules[index]
                if rule_id is not None and rule_id != rule.id and not rule_id.startswith(rule.id + "/"):
                    rule = None  # contradicts ruleId: trust the id
            elif index >= len(rules) and rules:
                raise ScanFormatError(
                    f"{self.path}.results[{i}].ruleIndex: {index} is out of range ({len(rules)} rules)"
                )
        if rule is None and rule_id is not None:
            rule = component.lookup(rule_id)
            if rule is None and component is self.driver:
                for extension in self.extensions:
                    rule = extension.lookup(rule_id)
                    if rule is not None:
                        break

        # message
        text = ""
        message = get("message")
        if message is not None:
            if type(message) is not dict:
                _expect(message, dict, _Suffix(self.path, i, ".message"))
            text = message.get("text") or message.get("markdown") or ""
            if type(text) is not str:
                _expect(text, str, _Suffix(self.path, i, ".message.text"))
            arguments = message.get("arguments")
            if arguments is not None:
                _expect(arguments, list, _Suffix(self.path, i, ".message.arguments"))
                arguments = [a if type(a) is str else json.dumps(a) for a in arguments]
            if text:
                if arguments:
                    text = format_message(text, arguments)
            else:
                message_id = _opt(message, "id", str, _Suffix(self.path, i, ".message"))
                if message_id is not None:
                    template = (rule.message_strings.get(message_id) if rule else None) or (
                        component.global_strings.get(message_id)
                    )
                    text = format_message(template, arguments or []) if template else ""
        if rule_id is None:
            if rule is None:
                rule = self.rule_for_message(text)
            rule_id = rule.id if rule else text.strip().split("\n", 1)[0].strip()[:200]
        if not text and rule is not None:
            text = rule.description

        # severity
        severity = None
        properties = get("properties")
        if properties is not None:
            if type(properties) is not dict:
                _expect(properties, dict, _Suffix(self.path, i, ".properties"))
            score = properties.get("security-severity")
            if score is not None:
                severity = security_severity(score)
        if severity is None and rule is not None:
            severity = rule.severity
        if severity is None:
            level = get("level")
            if level is None:
                if kind is not None and kind != "fail":
                    level = "none"
                else:
                    level = (rule.level if rule is not None else None) or "warning"
            severity = LEVEL_SEVERITY.get(level) if type(level) is str else None
            if severity is None:
                _level(level, _Suffix(self.path, i, ".level"))

        # location
        file_path = ""
        start_line = end_line = None
        snippet = ""
        locations = get("locations")
        if locations:
            if type(locations) is not list:
                _expect(locations, list, _Suffix(self.path, i, ".locations"))
            location = locations[0]
            if type(location) is not dict:
                _expect(location, dict, _Suffix(self.path, i, ".locations[0]"))
            physical = location.get("physicalLocation")
            if physical is not None:
                if type(physical) is not dict:
                    _expect(physical, dict, _Suffix(self.path, i, ".locations[0].physicalLocation"))
                artifact = physical.get("artifactLocation")
                if artifact is not None:
                    file_path = self._file(artifact, i)
                region = physical.get("region")
                if region is not None:
                    start_line, end_line, snippet = _region(region, self.path, i, "region")
                if not snippet:
                    context = physical.get("contextRegion")
                    if context is not None:
                        snippet = _region(context, self.path, i, "contextRegion")[2]
        elif locations is not None and type(locations) is not list:
            _expect(locations, list, _Suffix(self.path, i, ".locations"))

        fingerprints = get("partialFingerprints")
        if fingerprints:
            if type(fingerprints) is not dict:
                _expect(fingerprints, dict, _Suffix(self.path, i, ".partialFingerprints"))
            fingerprints = {
                k: v if type(v) is str else str(v) for k, v in fingerprints.items() if type(v) in (str, int, float)
            }
        else:
            fingerprints = {}
        return make_finding(
            self.tool_name,
            rule_id,
            rule.title if rule else "",
            severity,
            text,
            file_path,
            start_line,
            end_line,
            snippet,
            fingerprints,
            rule.help_uri if rule else "",
        )

    def _file(self, artifact: Any, i: int) -> str:
        path = _Suffix(self.path, i, ".locations[0].physicalLocation.artifactLocation")
        if type(artifact) is not dict:
            _expect(artifact, dict, path)
        uri = artifact.get("uri")
        base = artifact.get("uriBaseId")
        index = artifact.get("index")
        if uri is not None and type(uri) is not str:
            _expect(uri, str, At(path, "uri"))
        if base is not None and type(base) is not str:
            _expect(base, str, At(path, "uriBaseId"))
        if index is not None:
            _expect(index, int, At(path, "index"))
            if uri is None:
                uri, art_base = self.artifact(index, At(path, "index"))
                base = base or art_base
            elif base is None and 0 <= index < len(self.artifacts) and self.artifacts[index][0] == uri:
                base = self.artifacts[index][1]
        return self.paths.resolve(uri, base)


class _Suffix:
    """Lazy JSON path 'runs[r].results[i]<suffix>'."""

    __slots__ = ("run", "index", "suffix")

    def __init__(self, run: str, index: int, suffix: str) -> None:
        self.run = run
        self.index = index
        self.suffix = suffix

    def __call__(self) -> str:
        return f"{self.run}.results[{self.index}]{self.suffix}"


def _suppressed(suppressions: Any, path: Any) -> bool:
    """SARIF 3.27.23/3.35.3: suppressed if a suppression is accepted (status absent = accepted) and none is still
    underReview; rejected ones don't count."""
    _expect(suppressions, list, lambda: f"{_p(path)}.suppressions")
    accepted = False
    for j, suppression in enumerate(suppressions):
        _expect(suppression, dict, At(At(path, "suppressions"), j))
        status = suppression.get("status")
        if status is None or status == "accepted":
            accepted = True
        elif status == "underReview":
            return False
        elif status != "rejected":
            raise ScanFormatError(
                f"{_p(path)}.suppressions[{j}].status: expected one of accepted, underReview, rejected; "
                f"got {short(status)}"
            )
    return accepted


def _region(region: Any, run: str, i: int, name: str) -> tuple[int | None, int | None, str]:
    """(startLine, endLine, snippet text) of a region; startLine < 1 (Scorecard writes 0) means no line."""
    if type(region) is not dict:
        _expect(region, dict, _Suffix(run, i, f".locations[0].physicalLocation.{name}"))
    start = region.get("startLine")
    end = region.get("endLine")
    if start is not None and type(start) is not int:
        _expect(start, int, _Suffix(run, i, f".locations[0].physicalLocation.{name}.startLine"))
    if end is not None and type(end) is not int:
        _expect(end, int, _Suffix(run, i, f".locations[0].physicalLocation.{name}.endLine"))
    check_line(start, _Suffix(run, i, f".locations[0].physicalLocation.{name}.startLine"))
    check_line(end, _Suffix(run, i, f".locations[0].physicalLocation.{name}.endLine"))
    if start is not None and start < 1:
        start = None
    end = start if start is None or end is None or end < start else end
    snippet = region.get("snippet")
    text = ""
    if snippet is not None:
        if type(snippet) is not dict:
            _expect(snippet, dict, _Suffix(run, i, f".locations[0].physicalLocation.{name}.snippet"))
        text = snippet.get("text") or ""
        if type(text) is not str:
            _expect(text, str, _Suffix(run, i, f".locations[0].physicalLocation.{name}.snippet.text"))
        if len(text) > SNIPPET_MAX_CHARS:
            text = truncate_snippet(text)
    return start, end, text


class SarifScan:
    """A SARIF log: the constructor makes the structure pass (raising ScanFormatError for a bad file), then
    :meth:`findings` streams the findings.

    Attributes: ``tools`` (driver names, in run order, without repeats), ``complete`` (False if a run reports a failed
    invocation, an error notification, or has no results array, or if the log has no runs: findings missing from an
    incomplete scan must not be taken as fixed) and ``problems`` (why it is incomplete, one line each).
    """

    format = "sarif"

    def __init__(self, path: Any, source_root: str | None = None) -> None:
        self.path = path
        with open(path, "rb") as f:
            self.runs = self._structure(JsonStream(f), source_root)
        self.tools = list(dict.fromkeys(run.tool_name for run in self.runs))
        self.problems = [p for run in self.runs for p in run.problems]
        if not self.runs:
            self.problems.append("runs: the log has no runs")
        self.complete = not self.problems

    @staticmethod
    def _structure(stream: JsonStream, source_root: str | None) -> list[Run]:
        stream.enter("{", "(root)", 1)
        version = None
        runs: list[Run] | None = None
        for key in stream.members("(root)"):
            if key == "version":
                version = stream.read("version", 2)
                if type(version) is not str:
                    raise ScanFormatError(f"version: expected a string, got {got(version)}")
                if version != "2.1.0":
                    raise ScanFormatError(f"version: expected 2.1.0, got {short(version)}")
            elif key == "runs":
                stream.enter("[", "runs", 2)
                runs = []
                for i in stream.elements("runs"):
                    runs.append(Run(SarifScan._run(stream, i), source_root))  # validated before the next run
            else:
                stream.skip(short(key), 2)
        stream.finish()
        if runs is None:
            raise ScanFormatError("runs: required")
        if version is None:
            raise ScanFormatError("version: required")
        return runs

    @staticmethod
    def _run(stream: JsonStream, i: int) -> _RunMeta:
        path = f"runs[{i}]"
        meta = _RunMeta(i)
        stream.enter("{", path, 3)
        for key in stream.members(path):
            kpath = f"{path}.{short(key)}"
            if key == "tool":
                meta.tool = stream.read(kpath, 4)
            elif key == "invocations":
                meta.invocations = stream.read(kpath, 4)
            elif key == "originalUriBaseIds":
                meta.bases = stream.read(kpath, 4)
            elif key == "versionControlProvenance":
                meta.vcp = stream.read(kpath, 4)
            elif key == "results":
                stream.enter("[", kpath, 4)
                meta.results_offset = stream.byte_offset() - 1
                add = meta.common.add
                count = 0
                for j in stream.elements(kpath):
                    result = stream.read(At(kpath, j), 5)
                    count += 1
                    try:  # collect absolute URIs for the common-root heuristic; shapes are checked in pass 2
                        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    except (KeyError, IndexError, TypeError):
                        continue
                    if type(uri) is str and (uri[:1] in _SLASHES or uri[1:2] == ":" or uri[:5].lower() == "file:"):
                        if is_absolute_uri(uri):
                            add(fs_path(uri))
                meta.results_count = count
            elif key == "artifacts":
                stream.enter("[", kpath, 4)
                for j in stream.elements(kpath):
                    artifact = stream.read(At(kpath, j), 5)
                    _expect(artifact, dict, At(kpath, j))
                    location = _opt(artifact, "location", dict, f"{kpath}[{j}]") or {}
                    uri = _opt(location, "uri", str, f"{kpath}[{j}].location")
                    base = _opt(location, "uriBaseId", str, f"{kpath}[{j}].location")
                    meta.artifacts.append((uri, base))
                    if uri and is_absolute_uri(uri):
                        meta.common.add(fs_path(uri))
            else:
                stream.skip(kpath, 4)
        return meta

    def findings(self) -> Iterator[ParsedFinding]:
        with open(self.path, "rb") as f:
            for run in self.runs:
                if run.results_offset is None:
                    continue
                stream = JsonStream(f, run.results_offset)
                stream.enter("[", f"{run.path}.results", 4)
                read, convert = stream.read, run.convert
                for i in stream.elements(f"{run.path}.results"):
                    # Pass 1 checked the syntax and limits of exactly these bytes.
                    finding = convert(read(At(f"{run.path}.results", i), 5, False), i)
                    if finding is not None:
                        yield finding
