"""The deployment files, checked without a Docker engine: docker-compose.yml against the Compose Specification's
JSON schema (tests/vendor/compose-spec.json) and for what a working instance needs; the Dockerfile's build step
run as the build runs it; .env.example, .dockerignore and the Procfile."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "vendor" / "compose-spec.json"
CERTIFAI_SERVICES = ("web", "worker", "beat", "migrate")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


# --- docker-compose.yml -------------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(compose, validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_catches_mistakes(compose, validator):
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["healthchek"] = broken["services"]["web"].pop("healthcheck")
    broken["services"]["worker"]["depends_on"]["db"]["condition"] = "service_ready"
    broken["volumes"]["pgdata"] = "not a volume"
    assert len(list(validator.iter_errors(broken))) >= 3


def test_compose_runs_web_worker_beat_postgresql_and_redis(compose):
    services = compose["services"]
    assert set(services) >= {"web", "worker", "beat", "db", "redis", "migrate"}
    assert "gunicorn" in services["web"]["command"] and "certifai.wsgi" in services["web"]["command"]
    assert services["worker"]["command"][:5] == ["celery", "-A", "certifai", "--quiet", "worker"]
    assert services["beat"]["command"][:5] == ["celery", "-A", "certifai", "--quiet", "beat"]
    assert "deploy" not in services["beat"]  # one beat: never replicated
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    for name in CERTIFAI_SERVICES:  # one image, built from the Dockerfile
        assert services[name]["build"] == "." and services[name]["image"] == services["web"]["image"]


def test_migrations_run_once_before_the_app_starts(compose):
    services = compose["services"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["db"] == {"condition": "service_healthy"}
        assert depends["redis"] == {"condition": "service_healthy"}
        assert "migrate" not in " ".join(services[name]["command"])  # not again, concurrently, in every replica


def test_every_service_has_a_health_check(compose):
    services = compose["services"]
    for name in ("web", "worker", "beat", "db", "redis"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and check["interval"] and check["retries"] >= 3, name
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    for name in ("web", "beat"):  # their checks are Python one-liners: they must at least compile
        test = services[name]["healthcheck"]["test"]
        assert test[1:3] == ["python", "-c"]
        compile(test[3], f"{name} healthcheck", "exec")


def test_data_lives_in_named_volumes(compose):
    assert set(compose["volumes"]) == {"pgdata", "redisdata"}
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["db"]["volumes"]
    assert "redisdata:/data" in compose["services"]["redis"]["volumes"]
    assert "--appendonly" in compose["services"]["redis"]["command"]


def test_compose_wires_the_app_to_its_database_broker_and_secrets(compose):
    for name in CERTIFAI_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://certifai:") and "@db:5432/certifai" in \
            environment["DATABASE_URL"]
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        # Required, not generated per container: compose refuses to start without them.
        assert environment["CERTIFAI_SECRET_KEY"].startswith("${CERTIFAI_SECRET_KEY:?")
        assert environment["CERTIFAI_ENCRYPTION_KEY"].startswith("${CERTIFAI_ENCRYPTION_KEY:?")
        assert environment["CERTIFAI_LOG_FORMAT"] == "${CERTIFAI_LOG_FORMAT:-json}"
        assert compose["services"][name]["env_file"] == ".env"


def test_every_variable_compose_needs_is_in_env_example(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert required == {"POSTGRES_PASSWORD", "CERTIFAI_SECRET_KEY", "CERTIFAI_ENCRYPTION_KEY"}
    example = env_example()
    assert required <= set(example)
    assert all(example[name] == "" for name in required)  # no usable default secret to forget to change
    assert example["CERTIFAI_LOG_FORMAT"] == "json"
    for name in ("CERTIFAI_BASE_URL", "CERTIFAI_ALLOWED_HOSTS", "CERTIFAI_BEHIND_PROXY", "CERTIFAI_METRICS_TOKEN",
                 "CERTIFAI_TRACKER_ALLOWED_HOSTS", "WEB_CONCURRENCY", "CERTIFAI_WORKER_CONCURRENCY"):
        assert name in example, name
    for name in set(re.findall(r"\$\{([A-Z0-9_]+)", text)) - {"CERTIFAI_IMAGE"}:
        assert name in example, f"{name} is used by docker-compose.yml but not in .env.example"


def test_web_is_published_on_loopback_only(compose):
    assert compose["services"]["web"]["ports"] == ["127.0.0.1:${CERTIFAI_PORT:-8000}:8000"]
    for name in ("worker", "beat", "migrate", "db", "redis"):
        assert "ports" not in compose["services"][name], name


# --- Dockerfile ---------------------------------------------------------------------------------------


def test_dockerfile_is_slim_non_root_and_has_a_health_check():
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    user = [args for keyword, args in instructions if keyword == "USER"]
    assert user == ["10001:10001"]
    assert keywords.index("USER") > max(i for i, (k, a) in enumerate(instructions) if k == "RUN")
    [healthcheck] = [args for keyword, args in instructions if keyword == "HEALTHCHECK"]
    assert "/healthz" in healthcheck and "--interval=" in healthcheck
    probe = json.loads(healthcheck[healthcheck.index("CMD ") + 4:])  # exec form: no shell needed
    assert probe[:2] == ["python", "-c"] and compile(probe[2], "HEALTHCHECK", "exec")
    [cmd] = [json.loads(args) for keyword, args in instructions if keyword == "CMD"]
    assert "gunicorn certifai.wsgi" in cmd[-1] and "${PORT:-8000}" in cmd[-1] and cmd[-1].startswith("exec ")
    assert not any(keyword in ("ARG",) for keyword in keywords)  # no build-time secrets to pass


def test_dockerfile_collects_static_files_with_throwaway_values_only():
    [build_step] = [args for keyword, args in dockerfile_instructions()
                    if keyword == "RUN" and "collectstatic" in args]
    words = shlex.split(build_step)
    assignments = dict(word.split("=", 1) for word in words[: words.index("python")])
    assert set(assignments) == {"CERTIFAI_SECRET_KEY", "CERTIFAI_ENCRYPTION_KEY", "CERTIFAI_ENSURE_BROKER_DIR"}
    Fernet(assignments["CERTIFAI_ENCRYPTION_KEY"])  # a well-formed key, so settings load
    env_lines = [args for keyword, args in dockerfile_instructions() if keyword == "ENV"]
    assert not any("SECRET" in line or "ENCRYPTION" in line for line in env_lines)


def test_the_build_step_needs_no_database_broker_or_secret(tmp_path):
    """`collectstatic` as the Dockerfile runs it: only its throw-away values in the environment, no database, no
    Redis; it writes the static files and generates no key."""
    [build_step] = [args for keyword, args in dockerfile_instructions()
                    if keyword == "RUN" and "collectstatic" in args]
    words = shlex.split(build_step)
    split = words.index("python")
    assignments = dict(word.split("=", 1) for word in words[:split])
    local_dir = tmp_path / "local"
    static_root = tmp_path / "static"
    settings_module = tmp_path / "build_settings.py"
    settings_module.write_text(f"from certifai.settings import *  # noqa\nSTATIC_ROOT = {str(static_root)!r}\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "build_settings",
        "CERTIFAI_LOCAL_DIR": str(local_dir),
        **assignments,
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, *words[split + 1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (static_root / "css").is_dir() and any(static_root.rglob("*.css.gz"))
    assert not local_dir.exists()  # no key generated, no broker folder created


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".env", ".certifai/", "db.sqlite3", ".venv/", ".git/"} <= ignored
    assert "!.env.example" in ignored


# --- Procfile -----------------------------------------------------------------------------------------


def test_procfile_runs_web_on_port_worker_and_beat():
    from honcho.environ import parse_procfile

    processes = parse_procfile((ROOT / "Procfile").read_text()).processes
    assert list(processes) == ["web", "worker", "beat"]
    assert processes["web"].startswith("gunicorn certifai.wsgi ") and "--bind 0.0.0.0:$PORT" in processes["web"]
    assert processes["worker"].startswith("celery -A certifai worker ")
    assert processes["beat"].startswith("celery -A certifai beat ")
    assert "migrate" not in " ".join(processes.values())


# --- settings a deployment relies on ---------------------------------------------------------------------


def test_a_vanished_workers_tasks_are_looked_for_every_few_seconds(settings):
    """kombu restores unacknowledged tasks only when a worker sweeps for them (every 100 s by default): every
    10 s at most here, so a killed worker's tasks run again soon after the visibility timeout."""
    assert settings.REDIS_URL, "the test suite runs against Redis (make test sets REDIS_URL)"
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert options["unacked_restore_throttle"] == 1
    assert 1 <= options["unacked_restore_interval"] <= 10
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
