"""Real Celery workers on Redis, against the test PostgreSQL database and a fake tracker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis as redis_lib
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    def __init__(self, queue: str, redis_url: str, extra_env: dict[str, str]):
        self.queue = queue
        self.redis_url = redis_url
        self.extra_env = extra_env
        self.procs: list[subprocess.Popen] = []

    def _env(self) -> dict[str, str]:
        db = settings.DATABASES["default"]
        return {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
            "REDIS_URL": self.redis_url,
            "CERTIFAI_QUEUE": self.queue,
            **self.extra_env,
        }

    def start(self, concurrency: int = 2, name: str | None = None) -> subprocess.Popen:
        env = self._env()
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "certifai", "worker", "-Q", self.queue, "-c", str(concurrency),
             "-n", f"{name or uuid.uuid4().hex[:8]}@%h", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "--loglevel=WARNING"],
            cwd=ROOT, env=env, start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start_beat(self, tmp_path: Path) -> subprocess.Popen:
        """Celery beat, as deployed: its periodic retry_due hands work of dead workers to live ones."""
        env = {**self._env(), "CERTIFAI_RETRY_DUE_INTERVAL": "2"}
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "certifai", "beat", "--loglevel=WARNING",
             "--schedule", str(tmp_path / "beat-schedule")],
            cwd=ROOT, env=env, start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the worker and its pool children at once: nothing gets to clean up."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def workers(settings):
    """Workers consuming a queue of this test only; tasks sent from the test go there through Redis."""
    from certifai.celery import app

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    queue = f"certifai-test-{uuid.uuid4().hex[:8]}"
    settings.CERTIFAI_RATE_SCALE = 1000.0
    extra = {
        "CERTIFAI_RATE_SCALE": "1000",
        "CERTIFAI_ISSUE_LEASE_SECONDS": "4",
        "CERTIFAI_UNKNOWN_OUTCOME_DELAY": "1",
        "CERTIFAI_RETRY_BASE_SECONDS": "0.5",
        "CERTIFAI_VISIBILITY_TIMEOUT": "5",
        "CERTIFAI_TRACKER_ALLOWED_HOSTS": "127.0.0.1",  # the fake tracker listens there, over http
    }
    previous = (app.conf.task_always_eager, app.conf.task_default_queue, app.conf.broker_url,
                app.conf.broker_transport_options)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    app.conf.broker_url = redis_url
    app.conf.broker_transport_options = {"visibility_timeout": 5}
    pool = Workers(queue, redis_url, extra)
    yield pool
    pool.stop_all()
    (app.conf.task_always_eager, app.conf.task_default_queue, app.conf.broker_url,
     app.conf.broker_transport_options) = previous
    client = redis_lib.Redis.from_url(redis_url)
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)


def wait_until(predicate, timeout: float, interval: float = 0.2, message: str = "condition", describe=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    detail = f"; state: {describe()}" if describe else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {message}{detail}")
