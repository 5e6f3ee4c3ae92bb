"""The fake GitHub and a repository filed to it, shared with the pipeline tests."""

from tests.issues.conftest import github, github_repo  # noqa: F401 - fixtures
