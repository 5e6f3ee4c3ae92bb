"""Serve a fake tracker on 127.0.0.1 for an offline demo: the same fakes the tests use."""

import time

from django.core.management.base import BaseCommand


def _github(token: str, project: str, port: int):
    from trackers.fakes.github import FakeGitHub

    return FakeGitHub(tokens={token: {"login": "certifai-bot", "repos": {project: "write"}}}, port=port), {
        "type": "github", "repository": project, "api_url": "URL"}


def _gitlab(token: str, project: str, port: int):
    from trackers.fakes.gitlab import FakeGitLab

    fake = FakeGitLab(port=port)
    fake.add_user("certifai-bot", token=token)
    fake.add_project(project, project_id=1, members={"certifai-bot": 30})
    return fake, {"type": "gitlab", "project_id": project, "instance_url": "URL"}


def _gitea(token: str, project: str, port: int):
    from trackers.fakes.gitea import FakeGitea

    fake = FakeGitea(port=port)
    fake.add_token("certifai-bot", token, scopes=("write:issue", "read:repository", "read:user"))
    fake.add_repo(project, members={"certifai-bot": "write"})
    return fake, {"type": "gitea", "repository": project, "instance_url": "URL"}


def _jira(token: str, project: str, port: int):
    from trackers.fakes.jira import FakeJira

    return FakeJira(deployment="datacenter", token=token, project_key=project, port=port), {
        "type": "jira", "project_key": project, "instance_url": "URL", "email": ""}


MAKERS = {"github": _github, "gitlab": _gitlab, "gitea": _gitea, "jira": _jira}
DEFAULT_PROJECT = {"github": "acme/app", "gitlab": "acme/app", "gitea": "acme/app", "jira": "SEC"}


class Command(BaseCommand):
    help = "Run a fake GitHub, GitLab, Gitea or Jira (Data Center) on 127.0.0.1 for a demo without a real tracker."

    def add_arguments(self, parser):
        parser.add_argument("tracker", choices=sorted(MAKERS))
        parser.add_argument("--port", type=int, default=8111)
        parser.add_argument("--token", default="demo-token")
        parser.add_argument("--project", help="owner/name, GitLab path or Jira project key")

    def handle(self, *args, tracker, port, token, project, **options):
        project = project or DEFAULT_PROJECT[tracker]
        fake, fields = MAKERS[tracker](token, project, port)
        fake.start()
        fields = {k: (fake.url if v == "URL" else v) for k, v in fields.items()}
        self.stdout.write(f"Fake {tracker} at {fake.url}. Tracker settings for a repository: {fields}, token {token}")
        self.stdout.write("Tracker URLs on 127.0.0.1 must be allowed: CERTIFAI_TRACKER_ALLOWED_HOSTS=127.0.0.1")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            fake.stop()
