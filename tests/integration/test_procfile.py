"""The Procfile as deployed: honcho runs gunicorn, beat and four Celery workers against the test PostgreSQL
database and Redis, with a fake GitHub and a fake GitLab in this process. Ten scans of five repositories go in
at once through the REST API of the gunicorn process; one worker is SIGKILLed (its Celery main process and pool
children) while it holds work. Every actionable finding ends with exactly one issue, and nothing is lost.

honcho stops every process when one of them exits (that is its design: a supervisor restarts processes in
production), so the doomed worker runs under a honcho of its own, `honcho start worker`, next to
`honcho start -c worker=3 web beat worker`: four workers from the same Procfile, as on two worker hosts.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import redis as redis_lib
import requests
from django.conf import settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from certifai.logging import sane_request_id
from findings.models import SEVERITY_RANK, Finding, Scan
from issues.models import TrackerIssue
from tests.factories import member
from trackers.fakes.base import Fault
from trackers.fakes.github import FakeGitHub
from trackers.fakes.gitlab import FakeGitLab

from .conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
GITHUB_TOKEN = "ghp_ProcfileCanaryToken0123456789abcdefXYZ"
GITLAB_TOKEN = "glpat-ProcfileCanary0123456789"

# name, tracker, min_severity, the two scans of it (submitted at once, with the other eight)
REPOSITORIES = [
    ("acme/bandit-json", "github", "medium", ["bandit/vulpy__scan1-baseline.bandit.json",
                                              "bandit/vulpy__scan2-after-edit.bandit.json"]),
    ("acme/semgrep-json", "gitlab", "low", ["semgrep/vulpy__scan1-baseline.semgrep.json",
                                            "semgrep/vulpy__scan2-after-edit.semgrep.json"]),
    ("acme/bandit-sarif", "github", "high", ["bandit/vulpy__scan1-baseline.bandit.sarif",
                                             "bandit/vulpy__scan2-after-edit.bandit.sarif"]),
    ("acme/semgrep-sarif", "gitlab", "medium", ["semgrep/vulpy__scan1-baseline.semgrep.sarif",
                                                "semgrep/vulpy__scan2-after-edit.semgrep.sarif"]),
    ("acme/sarif-mix", "github", "low", ["sarif/codeql-2.5.4__codeQL-output.sarif",
                                         "sarif/devskim-1.0.90__many.sarif"]),
]
MARKER = re.compile(r"certifai:fingerprint=([0-9a-f]{64})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Honcho:
    """One `honcho start …` of the Procfile, its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "honcho", "--no-colour", "-d", str(ROOT), "-f", str(ROOT / "Procfile"), *args],
            cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.seen: set[psutil.Process] = set()

    def descendants(self) -> list[psutil.Process]:
        try:
            found = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            found = []
        self.seen.update(found)
        return found

    def celery_workers(self) -> list[psutil.Process]:
        """The Celery worker main processes (their pool children are their own children)."""
        workers = []
        for process in self.descendants():
            try:
                cmdline = process.cmdline()
                parent_cmdline = process.parent().cmdline() if process.parent() else []
            except psutil.NoSuchProcess:
                continue
            if "celery" in " ".join(cmdline) and "worker" in cmdline and "worker" not in parent_cmdline:
                workers.append(process)
        return workers

    def lines(self) -> list[tuple[str, dict]]:
        """(process name, JSON log entry) for every JSON line written so far."""
        import json

        entries = []
        for raw in self.log.read_bytes().decode(errors="replace").splitlines():
            prefix, sep, rest = raw.partition(" | ")
            if not sep or not rest.startswith("{"):
                continue
            try:
                entries.append((prefix.split()[-1], json.loads(rest)))
            except ValueError:
                continue
        return entries

    def stop(self) -> None:
        self.descendants()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # honcho hands SIGTERM on to each process group
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for process in self.seen:  # whatever outlived honcho
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        self._out.close()


def kill_worker(main: psutil.Process) -> list[int]:
    """SIGKILL a Celery worker's main process and its pool children at once: nothing gets to clean up."""
    victims = [main, *main.children(recursive=True)]
    for process in victims:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=10)
    return [process.pid for process in victims]


@pytest.fixture
def fakes():
    github = FakeGitHub(tokens={GITHUB_TOKEN: {"login": "certifai-bot", "repos": {
        name: "write" for name, tracker, _, _ in REPOSITORIES if tracker == "github"}}}).start()
    gitlab = FakeGitLab().start()
    gitlab.add_user("certifai-bot", token=GITLAB_TOKEN)
    gitlab.limits = {name: 0 for name in gitlab.limits}  # gitlab.com's per-minute limits are not under test here
    for name, tracker, _, _ in REPOSITORIES:
        if tracker == "gitlab":
            gitlab.add_project(name, members={"certifai-bot": 30})
    # Each create takes a moment, so that the kill finds the workers in the middle of their work.
    github.add_fault(Fault("delay", seconds=0.1), method="POST", path=r"/issues$", times=100_000)
    gitlab.add_fault(Fault("delay", seconds=0.1), method="POST", path=r"/issues$", times=100_000)
    yield github, gitlab
    github.stop()
    gitlab.stop()


def tracker_fields(tracker: str, name: str, github: FakeGitHub, gitlab: FakeGitLab) -> dict:
    if tracker == "github":
        return {"type": "github", "repository": name, "token": GITHUB_TOKEN, "api_url": github.url}
    return {"type": "gitlab", "project_id": name, "token": GITLAB_TOKEN, "instance_url": gitlab.url}


def tracker_issues(tracker: str, name: str, github: FakeGitHub, gitlab: FakeGitLab) -> dict[str, str]:
    """external id -> the issue's text (description and comments) in the fake tracker."""
    texts = {}
    if tracker == "github":
        for number in range(1, github.issue_count(name) + 1):
            issue = github.issue(name, number)
            texts[str(number)] = "\n".join([issue["body"] or "", *github.comments_of(name, number)])
        return texts
    with gitlab.lock:
        project = next(p for p in gitlab.projects.values() if p.path_with_namespace == name)
        for (project_id, iid), issue in gitlab.issues.items():
            if project_id == project.id:
                notes = [note.get("body", "") for note in gitlab.notes.get((project_id, iid), [])]
                texts[str(iid)] = "\n".join([issue.get("description") or "", *notes])
    return texts


def test_procfile_ten_scans_four_workers_one_killed(fakes, tmp_path, django_user_model):
    github, gitlab = fakes
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    queue = f"certifai-procfile-{uuid.uuid4().hex[:8]}"
    port = free_port()
    db = settings.DATABASES["default"]
    empty_env_file = tmp_path / "empty.env"  # not the developer's .env (docker compose's), whatever it says
    empty_env_file.write_text("")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
        "REDIS_URL": redis_url,
        "CERTIFAI_QUEUE": queue,
        "CERTIFAI_SECRET_KEY": settings.SECRET_KEY,
        "CERTIFAI_ENCRYPTION_KEY": ",".join(settings.ENCRYPTION_KEYS),
        "CERTIFAI_TRACKER_ALLOWED_HOSTS": "127.0.0.1",
        "CERTIFAI_RATE_SCALE": "1000",
        "CERTIFAI_ISSUE_LEASE_SECONDS": "4",
        "CERTIFAI_UNKNOWN_OUTCOME_DELAY": "1",
        "CERTIFAI_RETRY_BASE_SECONDS": "0.5",
        "CERTIFAI_VISIBILITY_TIMEOUT": "5",
        "CERTIFAI_RETRY_DUE_INTERVAL": "2",
        "CERTIFAI_WORKER_CONCURRENCY": "2",
        "CERTIFAI_BEAT_SCHEDULE": str(tmp_path / "beat-schedule"),
        "CERTIFAI_LOG_FORMAT": "json",
        "CERTIFAI_METRICS_TOKEN": "",
    }
    env.pop("CERTIFAI_CELERY_EAGER", None)
    user = member(django_user_model.objects.create_user("ops", password="pw-ops-123"))
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    base = f"http://127.0.0.1:{port}"

    main = Honcho(["start", "-e", str(empty_env_file), "-c", "worker=3", "web", "beat", "worker"], env,
                  tmp_path / "honcho-main.log")
    spare = Honcho(["start", "-e", str(empty_env_file), "worker"], env, tmp_path / "honcho-doomed.log")
    started = time.monotonic()
    try:
        def ready() -> bool:
            try:
                up = requests.get(f"{base}/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                return False
            workers_ready = sum(entry["message"].endswith(" ready.") for _, entry in main.lines() + spare.lines())
            return up and workers_ready >= 4

        wait_until(ready, 45, interval=0.3, message="gunicorn and four workers ready",
                   describe=lambda: main.log.read_text(errors="replace")[-3000:])
        assert main.proc.poll() is None and spare.proc.poll() is None
        assert len(main.celery_workers()) == 3 and len(spare.celery_workers()) == 1
        boot_seconds = time.monotonic() - started

        # Five repositories with their trackers, through the API of the gunicorn process.
        repositories = {}
        for name, tracker, min_severity, _ in REPOSITORIES:
            response = requests.post(f"{base}/api/v1/repositories/", headers=headers, timeout=30, json={
                "name": name, "tracker": {**tracker_fields(tracker, name, github, gitlab),
                                          "min_severity": min_severity}})
            assert response.status_code == 201, response.text
            repositories[name] = response.json()["id"]

        # Ten scans at once.
        uploads = [(name, path) for name, _, _, paths in REPOSITORIES for path in paths]

        def upload(index_and_item):
            index, (name, path) = index_and_item
            request_id = f"procfile-upload-{index}-{uuid.uuid4().hex[:6]}"
            with (DATA / path).open("rb") as handle:
                response = requests.post(f"{base}/api/v1/repositories/{repositories[name]}/scans/",
                                         headers={**headers, "X-Request-ID": request_id},
                                         files={"file": (Path(path).name, handle)}, timeout=120)
            return request_id, response

        with ThreadPoolExecutor(max_workers=len(uploads)) as pool:
            results = list(pool.map(upload, enumerate(uploads)))
        for request_id, response in results:
            assert response.status_code == 201, response.text
            assert response.headers["X-Request-ID"] == request_id
        request_ids = {request_id for request_id, _ in results}

        # Kill the spare worker while it holds pipeline work: its Celery main process and its pool children.
        def in_hand() -> set[tuple[str, str]]:
            """(task name, id) of the tasks the spare worker has received and not finished."""
            received, finished = set(), set()
            for _, entry in spare.lines():
                data = entry.get("data") or {}
                if not isinstance(data, dict) or "id" not in data:
                    continue
                if entry["message"].endswith(" received"):
                    received.add((data.get("name"), data["id"]))
                elif " succeeded in " in entry["message"] or " raised " in entry["message"]:
                    finished.add((data.get("name"), data["id"]))
            return received - finished

        pipeline_tasks = {"issues.process_completed_scan", "issues.sync_repository"}
        wait_until(lambda: any(name in pipeline_tasks for name, _ in in_hand())
                   and github.issue_count("acme/bandit-json") > 0, 30, interval=0.05,
                   message="the doomed worker at work", describe=lambda: spare.log.read_text(errors="replace")[-3000:])
        [doomed] = spare.celery_workers()
        killed = kill_worker(doomed)
        killed_at = time.monotonic() - started
        lost = in_hand()
        lost_tasks = sorted(name for name, _ in lost)
        assert set(lost_tasks) & pipeline_tasks, "the worker was killed with pipeline work in hand"
        spare.proc.wait(timeout=15)  # its honcho saw it die and stopped
        assert main.proc.poll() is None and len(main.celery_workers()) == 3, "the other processes go on"

        # Everything settles: every actionable finding has its one issue.
        def actionable(name: str, min_severity: str):
            return Finding.objects.filter(repository_id=repositories[name], status=Finding.Status.OPEN,
                                          severity_rank__lte=SEVERITY_RANK[min_severity])

        def redelivered_and_done() -> set[str]:
            """Ids of the killed worker's tasks that another worker has run to the end since."""
            return {(entry.get("data") or {}).get("id") for name, entry in main.lines()
                    if name.startswith("worker") and " succeeded in " in entry["message"]}

        def settled() -> bool:
            if not {task_id for _, task_id in lost} <= redelivered_and_done():
                return False  # Redis hands them to another worker once the visibility timeout has passed
            scans = Scan.objects.filter(repository_id__in=repositories.values())
            if scans.count() != 10 or any("planned" not in scan.counts for scan in scans):
                return False
            if TrackerIssue.objects.exclude(sync_state="synced").exists():
                return False
            return all(
                not actionable(name, min_severity).exclude(tracker_issue__sync_state="synced").exists()
                for name, _, min_severity, _ in REPOSITORIES
            )

        def state() -> str:
            return str([
                [task for task in lost if task[1] not in redelivered_and_done()],
                list(TrackerIssue.objects.exclude(sync_state="synced").values_list(
                    "repository__name", "sync_state", "pending_action", "attempts", "last_error")[:10]),
                [(s.pk, s.status, s.counts) for s in Scan.objects.all()],
            ])

        wait_until(settled, 75, interval=0.3, message="every actionable finding's issue", describe=state)
        settled_at = time.monotonic() - started

        totals = {"github": 0, "gitlab": 0}
        actionable_total = 0
        for name, tracker, min_severity, _ in REPOSITORIES:
            texts = tracker_issues(tracker, name, github, gitlab)
            in_bodies: dict[str, int] = {}
            for text in texts.values():
                for fingerprint in set(MARKER.findall(text)):
                    in_bodies[fingerprint] = in_bodies.get(fingerprint, 0) + 1
            duplicated = {fp: n for fp, n in in_bodies.items() if n > 1}
            assert not duplicated, f"{name}: fingerprints in more than one issue: {duplicated}"
            rows = TrackerIssue.objects.filter(repository_id=repositories[name])
            assert rows.exclude(external_id="").count() == len(texts), f"{name}: an issue Certifai doesn't know"
            for finding in actionable(name, min_severity).select_related("tracker_issue"):
                issue = finding.tracker_issue
                assert issue.external_id in texts, f"{name}: {finding.fingerprint} has no issue"
                assert finding.fingerprint in MARKER.findall(texts[issue.external_id])
                actionable_total += 1
            totals[tracker] += len(texts)
        assert actionable_total > 100 and totals["github"] and totals["gitlab"]

        # The gunicorn process serves the metrics of all the processes.
        response = requests.get(f"{base}/metrics", timeout=10)
        assert response.status_code == 200
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(response.text) for s in family.samples}
        assert samples[("certifai_scans", (("status", "completed"),))] == 10
        for tracker, filed in totals.items():
            created = samples[("certifai_tracker_issue_actions_total",
                               (("action", "create"), ("outcome", "ok"), ("tracker", tracker)))]
            assert created == filed
            calls = sum(value for (name, labels), value in samples.items()
                        if name == "certifai_tracker_call_duration_seconds_count"
                        and ("tracker", tracker) in labels and ("operation", "create") in labels)
            assert calls >= filed  # a create cut short by the kill is timed by nobody; retried ones count twice
        assert samples[("certifai_celery_queue_length", (("queue", queue),))] >= 0

        # JSON logs: the workers' lines about a scan's pipeline carry the id of the upload that queued it.
        worker_lines = [entry for name, entry in main.lines() if name.startswith("worker")]
        pipeline_lines = [e for e in worker_lines if e.get("task_name") == "issues.process_completed_scan"]
        assert pipeline_lines and all(e.get("task_id") for e in pipeline_lines)
        assert {e.get("request_id") for e in pipeline_lines} & request_ids
        web_lines = [entry for name, entry in main.lines() if name.startswith("web")]
        assert request_ids <= {e.get("request_id") for e in web_lines if e.get("status") == 201}
        assert all(sane_request_id(e["request_id"]) for e in web_lines if "request_id" in e)

        print(f"\nprocfile: boot {boot_seconds:.1f}s; killed worker pids {killed} at {killed_at:.1f}s holding "
              f"{lost_tasks}, all run again by the others; settled at {settled_at:.1f}s; {actionable_total} actionable "
              f"findings, issues github {totals['github']} gitlab {totals['gitlab']}, no fingerprint twice")
    finally:
        spare.stop()
        main.stop()
        forget_queue(redis_lib.Redis.from_url(redis_url), queue)


def forget_queue(client: redis_lib.Redis, queue: str) -> None:
    """Delete this test's queue, and its messages that killed workers left unacknowledged: kombu keeps those in
    one hash for all queues, and any worker sharing this Redis would put them back in the queue later."""
    import json

    for tag, raw in client.hscan_iter("unacked"):
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)
