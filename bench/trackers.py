"""Trackers in parallel on real Celery workers, and where a sync's time goes (bench/README.md, sections 6 and 7).

Nine repositories on GitHub (three, one account), GitLab (two), Gitea (three, slow: every answer takes
`slow_latency` seconds) and Jira Cloud (one) each get a scan; real worker processes (`celery worker`, as deployed)
run the pipeline. The fakes enforce the trackers' documented limits on a clock `scale` times faster than the wall
clock (our pacing is compressed by the same factor), so a client that overshoots gets 403/429 answers, counted
here. Reported per tracker: when its last issue was filed, the answers it gave, the most requests it had in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLAN = (  # tracker, repositories, findings each
    ("github", 3, 100),
    ("gitlab", 2, 150),
    ("gitea", 3, 20),
    ("jira", 1, 150),
)


def _count_answers(fake) -> None:
    fake.statuses = Counter()
    send = fake._send

    def counting_send(http, response):
        fake.statuses[response.status] += 1
        return send(http, response)

    fake._send = counting_send


def _fakes(scale: float, t0: float, slow_latency: float) -> dict[str, tuple[Any, dict]]:
    """Each tracker's fake, started, and the tracker settings (minus the repository) that point at it."""
    from bench.tasks import GITHUB_TOKEN, _bench_github_class
    from trackers.fakes.gitea import FakeGitea
    from trackers.fakes.gitlab import FakeGitLab
    from trackers.fakes.jira import FakeJira

    def clock() -> float:
        return t0 + (time.time() - t0) * scale

    names = {tracker: [f"acme/{tracker}-{i}" for i in range(n)] for tracker, n, _ in PLAN}
    github = _bench_github_class()(
        tokens={GITHUB_TOKEN: {"login": "certifai-bot", "repos": {name: "write" for name in names["github"]}}},
        creation_limit_per_minute=80, creation_limit_per_hour=500, scale=scale, t0=t0,
    ).start()
    gitlab = FakeGitLab()
    gitlab.clock = clock  # its per-minute limits (issues 200, notes 60, API 2,000) on the compressed clock
    gitlab.add_user("bot", token="glpat-bench")
    for i, name in enumerate(names["gitlab"]):
        gitlab.add_project(name, project_id=100 + i, members={"bot": 30})
    gitea = FakeGitea()
    gitea.add_token("bot", "gitea-bench", scopes=("write:issue", "read:repository", "read:user"))
    for name in names["gitea"]:
        gitea.add_repo(name, members={"bot": "write"})
    gitea.latency = slow_latency
    jira = FakeJira(deployment="cloud", email="bot@example.com", token="jira-bench")
    jira.clock = clock
    for fake in (gitlab, gitea, jira):
        _count_answers(fake)
        fake.start()
    return {
        "github": (github, {"type": "github", "token": GITHUB_TOKEN, "api_url": github.url}),
        "gitlab": (gitlab, {"type": "gitlab", "token": "glpat-bench", "instance_url": gitlab.url}),
        "gitea": (gitea, {"type": "gitea", "token": "gitea-bench", "instance_url": gitea.url}),
        "jira": (jira, {"type": "jira", "token": "jira-bench", "instance_url": jira.url, "email": "bot@example.com",
                        "project_key": "SEC"}),
    }


def _start_worker(queue: str, concurrency: int, scale: float) -> subprocess.Popen:
    env = {
        **os.environ,  # the benchmark's DATABASE_URL and REDIS_URL
        "CERTIFAI_QUEUE": queue,
        "CERTIFAI_RATE_SCALE": str(scale),
        "CERTIFAI_TRACKER_ALLOWED_HOSTS": "127.0.0.1",  # the fakes listen there, over http
        "CERTIFAI_RETRY_BASE_SECONDS": "1",
    }
    return subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "celery", "-A", "certifai", "worker", "-Q", queue, "-c", str(concurrency),
         "-n", f"bench-{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--loglevel=WARNING"],
        cwd=ROOT, env=env, start_new_session=True,
    )


def parallel(spec: dict) -> dict[str, Any]:
    from celery import current_app
    from django.conf import settings

    from bench.tasks import fresh_database
    from findings.importers.base import ParsedFinding
    from findings.models import Repository
    from findings.services import record_scan
    from issues.models import TrackerIssue
    from trackers import services as tracker_services

    if not os.environ.get("REDIS_URL"):
        return {"error": "needs REDIS_URL: the workers take their tasks from Redis"}
    scale, slow_latency = float(spec["scale"]), float(spec["slow_latency"])
    fresh_database()
    settings.CERTIFAI_RATE_SCALE = scale
    queue = f"certifai-bench-{uuid.uuid4().hex[:8]}"
    current_app.conf.task_default_queue = queue
    current_app.conf.task_always_eager = False
    t0 = time.time()
    fakes = _fakes(scale, t0, slow_latency)
    worker = _start_worker(queue, int(spec["concurrency"]), scale)
    try:
        repositories: dict[str, list[Repository]] = {}
        for tracker, count, _ in PLAN:
            fake, config = fakes[tracker]
            for i in range(count):
                name = f"acme/{tracker}-{i}"
                repository = Repository.objects.create(name=name, url=f"https://example.com/{name}")
                target = {"project_id": str(100 + i)} if tracker == "gitlab" else (
                    {} if tracker == "jira" else {"repository": name})
                tracker_services.save_tracker(repository, {**config, **target, "min_severity": "low"})
                repositories.setdefault(tracker, []).append(repository)
        start = time.monotonic()
        for tracker, _, n in PLAN:
            for repository in repositories[tracker]:
                findings = [ParsedFinding(tool="CodeQL", rule_id=f"py/rule-{i % 9}", rule_title=f"Rule {i % 9}",
                                          severity="high", message=f"Dangerous sink {i}.", file_path=f"src/m{i}.py",
                                          start_line=i + 1, end_line=i + 1) for i in range(n)]
                record_scan(repository=repository, findings=findings, tools=["CodeQL"])  # queues the pipeline
        done_at: dict[str, float] = {}
        deadline = start + float(spec["deadline"])
        while len(done_at) < len(PLAN) and time.monotonic() < deadline:
            for tracker, count, n in PLAN:
                if tracker in done_at:
                    continue
                synced = TrackerIssue.objects.filter(repository__in=repositories[tracker], sync_state="synced").count()
                if synced == count * n:
                    done_at[tracker] = time.monotonic() - start
            time.sleep(0.2)
        rows = {}
        for tracker, count, n in PLAN:
            fake, _ = fakes[tracker]
            statuses = dict(fake.statuses)
            rows[tracker] = {
                "repositories": count, "issues": count * n,
                "synced": TrackerIssue.objects.filter(repository__in=repositories[tracker],
                                                      sync_state="synced").count(),
                "seconds": done_at.get(tracker),
                "requests": sum(statuses.values()),
                "limited_answers": sum(v for k, v in statuses.items() if k in (403, 429)),
                "errors": sum(v for k, v in statuses.items() if k >= 500),
                "max_in_flight": fake.max_in_flight,
                "latency": slow_latency if tracker == "gitea" else 0.0,
            }
        return {"trackers": rows, "wall_seconds": time.monotonic() - start, "scale": scale,
                "concurrency": int(spec["concurrency"]), "tracker_concurrency": settings.CERTIFAI_TRACKER_CONCURRENCY}
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        for fake, _ in fakes.values():
            fake.stop()
        _clean_queue(queue)


def _clean_queue(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)


def sync_profile(spec: dict) -> dict[str, Any]:
    """Where a sync's time goes: `sync_repository` filing `findings` issues on a fake GitHub that answers at once and
    whose limits never bite (scale 100,000), under cProfile; with the SQL statements it makes, by kind."""
    import cProfile

    from django.conf import settings
    from django.db import connection

    from bench.tasks import GITHUB_TOKEN, SqlCounter, _bench_github_class, _profile_text, fresh_database
    from findings.importers.base import ParsedFinding
    from findings.models import Repository
    from findings.services import record_scan
    from issues.models import TrackerIssue
    from issues.services import plan_scan, sync_repository
    from trackers import services as tracker_services

    n, scale = int(spec["findings"]), 100_000.0
    fresh_database()
    settings.CERTIFAI_RATE_SCALE = scale
    fake = _bench_github_class()(
        tokens={GITHUB_TOKEN: {"login": "certifai-bot", "repos": {"acme/app": "write"}}},
        creation_limit_per_minute=80, creation_limit_per_hour=500, scale=scale, t0=time.time(),
    ).start()
    try:
        repository = Repository.objects.create(name="acme/app", url="https://github.com/acme/app")
        tracker_services.save_tracker(repository, {"type": "github", "repository": "acme/app", "token": GITHUB_TOKEN,
                                                   "api_url": fake.url, "min_severity": "low"})
        findings = [ParsedFinding(tool="CodeQL", rule_id=f"py/rule-{i % 9}", rule_title=f"Rule {i % 9}",
                                  severity="high", message=f"Dangerous sink {i}. " * 10, file_path=f"src/m{i}.py",
                                  start_line=i + 1, end_line=i + 1, snippet="cursor.execute(q)\n")
                    for i in range(n)]
        plan_scan(record_scan(repository=repository, findings=findings, tools=["CodeQL"]))
        import trackers.adapters.github  # noqa: F401 - imported before the profile, as in a running worker
        counter = SqlCounter()
        profiler = cProfile.Profile()
        start = time.perf_counter()
        calls = 0
        with connection.execute_wrapper(counter):
            profiler.enable()
            while TrackerIssue.objects.filter(repository=repository, sync_state="pending").exists() and calls < 50:
                sync_repository(repository.pk, budget_seconds=600)
                calls += 1
            profiler.disable()
        seconds = time.perf_counter() - start
        synced = TrackerIssue.objects.filter(repository=repository, sync_state="synced").count()
        return {"findings": n, "synced": synced, "seconds": seconds, "per_issue_ms": 1000 * seconds / max(synced, 1),
                "requests": sum(fake.statuses.values()), "statuses": dict(fake.statuses),
                "profile": _profile_text(profiler), **counter.as_dict()}
    finally:
        fake.stop()
