"""Pipeline fixtures: a repository whose tracker is a fake GitHub/GitLab/Gitea/Jira on 127.0.0.1."""

from __future__ import annotations

import pytest

from findings.importers.base import ParsedFinding
from tests.factories import RepositoryFactory
from trackers import services as tracker_services
from trackers.fakes.github import FakeGitHub

GITHUB_TOKEN = "ghp_PipelineCanaryToken0123456789abcdefXY"


def parsed(rule: str = "py/sql-injection", path: str = "app/db.py", line: int = 10, severity: str = "high",
           tool: str = "CodeQL", snippet: str = "", partial: dict | None = None) -> ParsedFinding:
    return ParsedFinding(tool=tool, rule_id=rule, rule_title=f"Rule {rule}", severity=severity,
                         message=f"{rule} at {path}:{line}", file_path=path, start_line=line, end_line=line,
                         snippet=snippet, partial_fingerprints=partial or {})


@pytest.fixture
def github():
    fake = FakeGitHub(tokens={GITHUB_TOKEN: {"login": "certifai-bot", "repos": {"acme/app": "write"}}}).start()
    yield fake
    fake.stop()


@pytest.fixture
def github_repo(github, settings):
    settings.CERTIFAI_RATE_SCALE = 1000.0  # the documented limits, compressed in time
    repo = RepositoryFactory(name="acme/app")
    tracker_services.save_tracker(repo, {"type": "github", "repository": "acme/app", "token": GITHUB_TOKEN,
                                         "api_url": github.url, "min_severity": "low"})
    return repo
