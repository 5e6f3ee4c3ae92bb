"""What bandit and semgrep reports share: a top-level object with a ``results`` list and an ``errors`` list.

Two passes, like the SARIF importer: the constructor checks the whole file (syntax, limits, structure), remembers
where ``results`` starts, collects ``errors`` as problems and feeds absolute paths to the common-root heuristic;
:meth:`FlatReport.findings` then converts the results one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from findings.importers.base import ParsedFinding, ScanFormatError
from findings.importers.sarif import At, CommonDir, JsonStream, PathResolver, got, is_absolute_uri, short


def add_plain_path(common: CommonDir, name: object) -> None:
    """Feed an absolute plain path to the common-root heuristic."""
    if type(name) is str and is_absolute_uri(name) and name[:5].lower() != "file:":
        common.add("/" + name.replace("\\", "/").lstrip("/"))


class FlatReport:
    """Subclasses set `format`, `tool` and `path_field`, and implement `convert` and `error_line`."""

    format: ClassVar[str]
    tool: ClassVar[str]
    path_field: ClassVar[str]  # the result's file path key
    complete = True  # the tools' own ``errors`` are problems to show, not a reason to distrust the results

    def __init__(self, path: Any, source_root: str | None = None) -> None:
        self.path = path
        self.tools = [self.tool]
        self.problems: list[str] = []
        self._offset: int | None = None
        common = CommonDir()
        with open(path, "rb") as f:
            stream = JsonStream(f)
            stream.enter("{", "(root)", 1)
            for key in stream.members("(root)"):
                if key == "results":
                    stream.enter("[", "results", 2)
                    self._offset = stream.byte_offset() - 1
                    for i in stream.elements("results"):
                        result = stream.read(At("results", i), 3)
                        if type(result) is dict:
                            add_plain_path(common, result.get(self.path_field))
                elif key == "errors":
                    errors = stream.read("errors", 2)
                    if type(errors) is not list:
                        raise ScanFormatError(f"errors: expected a list, got {got(errors)}")
                    self.problems += [self.error_line(error) for error in errors[:100] if type(error) is dict]
                elif not self.read_member(stream, key, common):
                    stream.skip(short(key), 2)
            stream.finish()
        if self._offset is None:
            raise ScanFormatError("results: required")
        self.paths = PathResolver(common=common, source_root=source_root)

    def read_member(self, stream: JsonStream, key: str, common: CommonDir) -> bool:
        """Read another top-level member if the report has one worth reading; False to skip it."""
        return False

    def error_line(self, error: dict) -> str:
        raise NotImplementedError

    def convert(self, result: Any, path: At) -> ParsedFinding | None:
        raise NotImplementedError

    def findings(self) -> Iterator[ParsedFinding]:
        with open(self.path, "rb") as f:
            stream = JsonStream(f, self._offset or 0)
            stream.enter("[", "results", 2)
            for i in stream.elements("results"):
                path = At("results", i)
                finding = self.convert(stream.read(path, 3, False), path)
                if finding is not None:
                    yield finding
