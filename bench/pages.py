"""Pages and list APIs under load: a big seeded dataset, gunicorn as in production, wrk, query counts.

Child side (bench/run.py --child, Django set up): `seed` fills the bench database with set-based SQL (two teams:
the big one that is measured, and a small one whose pages the query counts are compared with) and returns the
session cookies, API tokens and ids the pages need; `queries` counts the SQL queries of every page for both users
with Django's test client. Parent side: `run_pages` seeds, starts gunicorn, runs wrk on every page and collects
it all into results["pages"] for bench/report.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# key, label, kind ("page": session cookie, "api": token), path ({repository} and {finding} are the user's own),
# and "next": follow the first page's `next` cursor (API) to measure a following page.
PAGES: list[dict] = [
    {"key": "issues", "label": "Issues list", "kind": "page", "path": "/issues/"},
    {"key": "issues-status", "label": "Issues, status open", "kind": "page", "path": "/issues/?status=open"},
    {"key": "issues-sort", "label": "Issues, newest created first", "kind": "page", "path": "/issues/?sort=-created"},
    {"key": "issues-search", "label": "Issues, search", "kind": "page", "path": "/issues/?q=injection"},
    {"key": "findings", "label": "Findings list", "kind": "page", "path": "/findings/"},
    {"key": "findings-severity", "label": "Findings, severity high", "kind": "page",
     "path": "/findings/?severity=high"},
    # Page 1,000 at full size (an offset of 25,000 rows); a page within the data at smaller sizes (--quick).
    {"key": "findings-deep", "label": "Findings, deep page", "kind": "page", "path": "/findings/?page={deep_page}"},
    {"key": "finding", "label": "Finding detail (linked issue)", "kind": "page", "path": "/findings/{finding}/"},
    {"key": "repositories", "label": "Repository list", "kind": "page", "path": "/repositories/"},
    {"key": "repository", "label": "Repository detail", "kind": "page", "path": "/repositories/{repository}/"},
    {"key": "dashboard", "label": "Dashboard", "kind": "page", "path": "/"},
    {"key": "api-issues", "label": "API issues", "kind": "api", "path": "/api/v1/issues/"},
    {"key": "api-findings", "label": "API findings", "kind": "api", "path": "/api/v1/findings/"},
    {"key": "api-findings-next", "label": "API findings, next cursor", "kind": "api", "path": "/api/v1/findings/",
     "next": True},
    {"key": "api-repositories", "label": "API repositories", "kind": "api", "path": "/api/v1/repositories/"},
]

TOOLS = ["CodeQL", "Semgrep", "Bandit", "Trivy", "gosec", "ESLint"]
WEAKNESSES = [
    "SQL injection", "Cross-site scripting", "Path traversal", "Command injection", "Hard-coded credentials",
    "Server-side request forgery", "Insecure deserialization", "Weak cryptographic hash", "Open redirect",
    "XML external entity", "Missing CSRF protection", "Cleartext logging of sensitive data",
    "Regular expression DoS", "Use of insecure random", "Unvalidated TLS certificate", "Race condition",
    "Integer overflow", "Prototype pollution", "LDAP injection", "Template injection",
]
AREAS = ["api", "core", "auth", "billing", "web", "workers", "models", "utils"]
EXTENSIONS = ["py", "js", "go", "ts", "java", "rb"]
TRACKER_TYPES = ["github", "gitlab", "gitea", "jira"]


# --- child side: seed ----------------------------------------------------------------------------------------------


def _sql_array(values: list[str]) -> str:
    return "(ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "])"


def _tracker_data(kind: str, i: int, name: str) -> dict:
    data = {"type": kind, "token": f"bench-token-{i:04d}-0123456789abcdef", "min_severity": "medium"}
    if kind in ("github", "gitea"):
        data["repository"] = name
    if kind in ("gitea", "jira"):
        data["instance_url"] = f"https://{kind}.example.com"
    if kind == "gitlab":
        data["project_id"] = name
    if kind == "jira":
        data["project_key"] = f"SEC{i % 100}"
        data["email"] = "certifai-bot@example.com"
    return data


def seed_team(cursor, team_name: str, username: str, repositories: int, findings: int, issues: int,
              scans_per_repository: int = 10) -> dict:
    """One team with `repositories` repositories (each with a tracker of a mix of types, made by save_tracker
    so tokens are encrypted), scans, `findings` findings, `issues` tracker issues linked to findings and their
    events; a user who is admin of the team (sees and may do everything there). Set-based SQL for the big tables."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from findings.models import Repository, Scan
    from issues.services import planned_title_sql
    from teams.models import Membership, Role, Team
    from trackers.services import save_tracker

    steps: dict[str, float] = {}
    mark = time.perf_counter()

    def step(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        steps[name] = round(now - mark, 2)
        mark = now

    team = Team.objects.create(name=team_name)
    user = get_user_model().objects.create_user(username, password=os.urandom(16).hex())
    Membership.objects.create(team=team, user=user, role=Role.ADMIN)
    repos = Repository.objects.bulk_create([
        Repository(name=f"{team_name.lower().replace(' ', '-')}/service-{i:03d}", team=team,
                   url=f"https://github.com/{team_name.lower().replace(' ', '-')}/service-{i:03d}")
        for i in range(repositories)
    ])
    for i, repo in enumerate(repos):
        save_tracker(repo, _tracker_data(TRACKER_TYPES[i % len(TRACKER_TYPES)], i, repo.name))
    repo_ids = [r.pk for r in repos]
    step("repositories and trackers (ORM)")
    # Two paused trackers, for the dashboard's "paused" list.
    cursor.execute("UPDATE trackers_trackerconfig SET sync_paused = true, sync_error = 'HTTP 401: bad credentials' "
                   "WHERE repository_id = ANY(%s)", [repo_ids[:2]])

    # Scans: `scans_per_repository` completed scans per repository, a day apart.
    scans = [
        Scan(repository=repo, tool=TOOLS[(i + k) % len(TOOLS)], format="sarif", file_name=f"scan-{k}.sarif",
             status=Scan.Status.COMPLETED if k % 17 else Scan.Status.FAILED,
             counts={"new": 10, "unchanged": 100, "reappeared": 1, "resolved": 3, "total": 111})
        for i, repo in enumerate(repos) for k in range(scans_per_repository)
    ]
    Scan.objects.bulk_create(scans)
    cursor.execute("UPDATE findings_scan SET created_at = now() - ((%s - id %% %s) || ' days')::interval, "
                   "completed_at = now() - ((%s - id %% %s) || ' days')::interval + interval '1 minute' "
                   "WHERE repository_id = ANY(%s)",
                   [scans_per_repository, scans_per_repository, scans_per_repository, scans_per_repository,
                    repo_ids])
    # Per repository: its index (1-based), its first and last scan.
    cursor.execute("DROP TABLE IF EXISTS bench_repo")
    cursor.execute(
        "CREATE TEMP TABLE bench_repo AS SELECT row_number() OVER (ORDER BY r.id) AS idx, r.id, "
        "min(s.id) AS first_scan, max(s.id) AS last_scan, t.id AS config_id, t.type AS tracker "
        "FROM findings_repository r JOIN findings_scan s ON s.repository_id = r.id "
        "JOIN trackers_trackerconfig t ON t.repository_id = r.id WHERE r.team_id = %s GROUP BY r.id, t.id",
        [team.pk])

    step("scans")
    # Findings: repositories of very different sizes (a power law over the index), severities, statuses, tools,
    # rules, paths; fingerprints are sha256 hex (64 characters), unique per repository by construction.
    n_repos = len(repos)
    cursor.execute("SELECT setseed(0.42)")
    cursor.execute(f"""
        INSERT INTO findings_finding (repository_id, fingerprint, rule_id, title, severity, severity_rank,
            description, file_path, start_line, end_line, tool, snippet, partial_fingerprints, help_uri, status,
            resolved_at, first_scan_id, last_scan_id, reappeared_scan_id, resolved_scan_id, created_at, updated_at)
        SELECT br.id,
            encode(sha256(convert_to(br.id || ':' || x.g, 'UTF8')), 'hex'),
            lower({_sql_array(TOOLS)}[1 + mod(x.rule, 6)]) || '/' || replace(lower(
                {_sql_array(WEAKNESSES)}[1 + mod(x.rule, 20)]), ' ', '-') || '-' || x.rule,
            {_sql_array(WEAKNESSES)}[1 + mod(x.rule, 20)] || ' (rule ' || x.rule || ')',
            sev.severity, sev.rank,
            repeat('Untrusted input flows from the request into a sensitive sink without validation. ', 4),
            'src/' || {_sql_array(AREAS)}[1 + mod(x.g, 8)] || '/module_' || (mod(x.g, 250)) || '.'
                || {_sql_array(EXTENSIONS)}[1 + mod(x.rule, 6)],
            1 + mod((x.g * 7), 4000), 3 + mod((x.g * 7), 4000),
            {_sql_array(TOOLS)}[1 + mod(x.rule, 6)],
            'result = run(request.args["q' || x.g || '"])',
            jsonb_build_object('primaryLocationLineHash', md5(x.g::text) || ':1'),
            'https://docs.example.com/rules/' || x.rule,
            CASE WHEN x.r3 < 0.7 THEN 'open' ELSE 'resolved' END,
            CASE WHEN x.r3 < 0.7 THEN NULL ELSE now() - interval '2 days' END,
            br.first_scan + floor(x.r4 * {scans_per_repository})::int,
            CASE WHEN x.r3 < 0.7 THEN br.last_scan ELSE br.last_scan - 1 END,
            NULL,
            CASE WHEN x.r3 < 0.7 THEN NULL ELSE br.last_scan END,
            now() - (x.r4 * interval '365 days'), now() - (x.r4 * interval '30 days')
        FROM (SELECT g, mod(g::bigint * 7919, 300)::int AS rule,
                     random() AS r1, random() AS r2, random() AS r3, random() AS r4
              FROM generate_series(1, %s) g) x
        JOIN bench_repo br ON br.idx = 1 + least({n_repos - 1}, floor({n_repos} * power(x.r1, 2))::int)
        CROSS JOIN LATERAL (SELECT CASE WHEN x.r2 < 0.05 THEN 'critical' WHEN x.r2 < 0.25 THEN 'high'
                                        WHEN x.r2 < 0.60 THEN 'medium' WHEN x.r2 < 0.85 THEN 'low' ELSE 'info' END
                                   AS severity) s0
        CROSS JOIN LATERAL (SELECT s0.severity, array_position(ARRAY['critical','high','medium','low','info'],
                                   s0.severity) - 1 AS rank) sev
        ORDER BY 1, 2  -- in index order: the unique (repository, fingerprint) index is then filled sequentially
    """, [findings])
    step("findings")
    history_table = _seed_history(cursor, repo_ids)
    step("finding history")

    # Tracker issues for `issues` findings at or above medium: 90% synced (open or closed as the finding is, some
    # accepted risk), 7% pending creation, 3% failed; external ids numbered per repository.
    cursor.execute("""
        CREATE TEMP TABLE bench_pick AS
        SELECT f.id, f.repository_id, f.fingerprint, f.title, f.rule_id, f.file_path, f.start_line, f.severity,
               f.status, f.created_at, f.first_scan_id,
               random() AS r, row_number() OVER (PARTITION BY f.repository_id ORDER BY f.id) AS n
        FROM (SELECT * FROM findings_finding WHERE repository_id = ANY(%s) AND severity_rank <= 2
              ORDER BY random() LIMIT %s) f
    """, [repo_ids, issues])
    step("pick findings for issues")
    cursor.execute("""
        INSERT INTO issues_trackerissue (repository_id, tracker_config_id, tracker, fingerprint, finding_id,
            external_id, title, url, status, state, accepted_risk, created, last_synced, sync_state, pending_action,
            pending_comment, last_error, attempts, claimed_at, lease_until, action_scan_id, next_attempt_at,
            created_at, updated_at)
        SELECT p.repository_id, br.config_id, br.tracker, p.fingerprint, p.id,
            CASE WHEN p.r < 0.9 THEN (CASE WHEN br.tracker = 'jira' THEN 'SEC-' ELSE '' END) || p.n ELSE '' END,
            {planned_title},
            CASE WHEN p.r >= 0.9 THEN ''
                 WHEN br.tracker = 'jira' THEN 'https://jira.example.com/browse/SEC-' || p.n
                 ELSE 'https://' || br.tracker || '.example.com/acme/repo-' || p.repository_id || '/issues/' || p.n
            END,
            CASE WHEN p.r >= 0.9 THEN ''
                 WHEN br.tracker = 'jira' THEN (CASE WHEN p.status = 'open' THEN 'To Do' ELSE 'Done' END)
                 ELSE (CASE WHEN p.status = 'open' THEN 'open' ELSE 'closed' END) END,
            CASE WHEN p.r >= 0.9 THEN '' WHEN p.status = 'open' THEN 'open' ELSE 'closed' END,
            p.r < 0.9 AND p.status <> 'open' AND p.r < 0.05,
            CASE WHEN p.r < 0.9 THEN p.created_at + interval '1 hour' END,
            CASE WHEN p.r < 0.9 THEN now() - (p.r * interval '10 hours') END,
            CASE WHEN p.r < 0.9 THEN 'synced' WHEN p.r < 0.97 THEN 'pending' ELSE 'failed' END,
            CASE WHEN p.r < 0.9 THEN '' ELSE 'create' END,
            '',
            CASE WHEN p.r >= 0.97 THEN 'HTTP 502 from the tracker: Bad Gateway' ELSE '' END,
            CASE WHEN p.r < 0.9 THEN 1 WHEN p.r < 0.97 THEN 0 ELSE 6 END,
            NULL, NULL, p.first_scan_id,
            CASE WHEN p.r >= 0.9 THEN now() + interval '5 minutes' END,
            p.created_at, p.created_at + interval '1 hour'
        FROM bench_pick p JOIN bench_repo br ON br.id = p.repository_id
    """.replace("{planned_title}", planned_title_sql("p")))  # filed or not, the title the claim gives (see issues)
    step("tracker issues")
    cursor.execute("""
        INSERT INTO issues_issueevent (issue_id, scan_id, action, ok, message, created_at)
        SELECT i.id, i.action_scan_id, 'create', i.sync_state <> 'failed',
               CASE WHEN i.sync_state = 'failed' THEN i.last_error ELSE 'Created ' || i.external_id END,
               i.created_at + interval '1 hour'
        FROM issues_trackerissue i WHERE i.repository_id = ANY(%s) AND i.sync_state <> 'pending'
        UNION ALL
        SELECT i.id, i.action_scan_id, 'close', true, 'The finding was resolved', i.updated_at
        FROM issues_trackerissue i WHERE i.repository_id = ANY(%s) AND i.state = 'closed'
    """, [repo_ids, repo_ids])
    cursor.execute("DROP TABLE bench_pick")
    step("issue events")

    # What the pages link to: the biggest repository; a finding of it with a synced, linked issue.
    cursor.execute("SELECT repository_id FROM findings_finding WHERE repository_id = ANY(%s) "
                   "GROUP BY repository_id ORDER BY count(*) DESC LIMIT 1", [repo_ids])
    biggest = cursor.fetchone()[0]
    cursor.execute("SELECT finding_id FROM issues_trackerissue WHERE repository_id = %s AND sync_state = 'synced' "
                   "ORDER BY id LIMIT 1", [biggest])
    finding = cursor.fetchone()[0]
    counts = {}
    for table, column in (("findings_finding", "repository_id"), ("issues_trackerissue", "repository_id"),
                          ("findings_scan", "repository_id"), (history_table, "finding_id"),
                          ("issues_issueevent", "issue_id")):
        if column == "finding_id":
            cursor.execute(f"SELECT count(*) FROM {table} x JOIN findings_finding f ON f.id = x.finding_id "
                           "WHERE f.repository_id = ANY(%s)", [repo_ids])
        elif column == "issue_id":
            cursor.execute(f"SELECT count(*) FROM {table} x JOIN issues_trackerissue i ON i.id = x.issue_id "
                           "WHERE i.repository_id = ANY(%s)", [repo_ids])
        else:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} = ANY(%s)", [repo_ids])
        counts[table] = cursor.fetchone()[0]
    cursor.execute("DROP TABLE bench_repo")
    return {
        "team": team.pk, "user": user.pk, "username": username, "repository": biggest, "finding": finding,
        "deep_page": max(1, min(1000, findings // 50)),  # 25 a page: at most half-way through the team's findings
        "repositories": n_repos, "counts": counts, "token": Token.objects.create(user=user).key,
        "session_cookie": _session_cookie(user), "steps": steps,
    }


def _seed_history(cursor, repo_ids: list[int]) -> str:
    """A finding's history as the models keep it: FindingChange rows (a resolve per resolved finding) where that
    model exists, else Sighting rows (the scans that saw it first and last). Returns the table's name."""
    from django.apps import apps

    try:
        table = apps.get_model("findings", "FindingChange")._meta.db_table
    except LookupError:
        table = apps.get_model("findings", "Sighting")._meta.db_table
        cursor.execute(f"""
            INSERT INTO {table} (scan_id, finding_id)
            SELECT first_scan_id, id FROM findings_finding WHERE repository_id = ANY(%s)
            UNION SELECT last_scan_id, id FROM findings_finding WHERE repository_id = ANY(%s)
        """, [repo_ids, repo_ids])
        return table
    cursor.execute(f"""
        INSERT INTO {table} (finding_id, scan_id, kind)
        SELECT id, resolved_scan_id, 'resolved' FROM findings_finding
        WHERE repository_id = ANY(%s) AND resolved_scan_id IS NOT NULL
    """, [repo_ids])
    return table


def _foreign_key_checks_off(cursor) -> bool:
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic():
            cursor.execute("SET session_replication_role = replica")
        return True
    except DatabaseError:
        return False


def _session_cookie(user) -> str:
    """A logged-in session for the user, as the login form would make it: `name=value` for a Cookie header."""
    from django.conf import settings
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def seed(spec: dict) -> dict:
    """Both teams, then VACUUM ANALYZE: the state autovacuum leaves a database in a while after a big change."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with connection.cursor() as cursor:
        with transaction.atomic():
            small = seed_team(cursor, "Bench small", "bench-small", spec["small_repositories"],
                              spec["small_findings"], spec["small_issues"], scans_per_repository=3)
        seeded_small = time.perf_counter()
        # The big team's rows reference only rows made just before (by construction): skip the foreign-key
        # triggers (half the seeding time, all at commit) when this connection may (superuser); else keep them.
        replica = _foreign_key_checks_off(cursor)
        with transaction.atomic():
            big = seed_team(cursor, "Bench", "bench", spec["repositories"], spec["findings"], spec["issues"])
            committing = time.perf_counter()
        seeded = time.perf_counter()
        if replica:
            cursor.execute("SET session_replication_role = origin")
        big["steps"]["commit" + ("" if replica else " (deferred foreign-key checks)")] = round(seeded - committing, 2)
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    return {"big": big, "small": small, "seed_seconds": seeded - started,
            "seed_small_seconds": seeded_small - started,
            "vacuum_seconds": time.perf_counter() - seeded, "database_size": size}


# --- child side: query counts --------------------------------------------------------------------------------------


def page_path(page: dict, ids: dict) -> str:
    return page["path"].format(repository=ids["repository"], finding=ids["finding"], deep_page=ids["deep_page"])


def queries(spec: dict) -> dict:
    """The SQL queries of each page (Django's test client, CaptureQueriesContext) for the big team's user and the
    small team's, after a warm-up request of each: equal counts mean the count does not grow with the data."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    out: dict[str, dict] = {}
    for who in ("big", "small"):
        ids = spec[who]
        client = Client(SERVER_NAME="127.0.0.1")
        client.cookies.load(ids["session_cookie"])
        headers = {"HTTP_AUTHORIZATION": f"Token {ids['token']}"}
        for page in PAGES:
            extra = headers if page["kind"] == "api" else {}
            path = page_path(page, ids)
            if page.get("next"):
                path = _next_path(client.get(path, **extra).json())
            client.get(path, **extra)  # warm-up: content types, the session
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path, **extra)
            out.setdefault(page["key"], {})[who] = {"queries": len(ctx.captured_queries),
                                                    "status": response.status_code, "path": path}
            if who == "big":
                slowest = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:3]
                out[page["key"]]["slowest"] = [{"ms": float(q["time"]) * 1000, "sql": q["sql"][:300]}
                                               for q in slowest]
    return out


def _next_path(body: dict) -> str:
    nxt = body.get("next")
    if not nxt:
        raise RuntimeError("the API's first page has no next cursor")
    parts = nxt.split("://", 1)[-1]
    return parts[parts.index("/"):]


# --- parent side ---------------------------------------------------------------------------------------------------


class PagesError(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, headers: dict, timeout: float = 30) -> tuple[int, bytes, str]:
    """GET without following redirects: (status, body, Location)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers)
    try:
        with opener.open(request, timeout=timeout) as response:  # noqa: S310 - http://127.0.0.1 only
            return response.status, response.read(), response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Location", "")


class Gunicorn:
    """gunicorn serving certifai.wsgi as the Dockerfile does (N processes of 4 threads), DEBUG off."""

    def __init__(self, env: dict, workdir: Path, workers: int, threads: int):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "gunicorn.log"
        env = {k: v for k, v in env.items() if k != "CERTIFAI_DEBUG"}
        self.command = [sys.executable, "-m", "gunicorn", "certifai.wsgi", "--bind", f"127.0.0.1:{self.port}",
                        "--workers", str(workers), "--threads", str(threads), "--timeout", "120",
                        "--worker-tmp-dir", "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()]
        self.env = env
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        handle = open(self.log, "w")  # noqa: SIM115 - closed in __exit__
        self._handle = handle
        self.proc = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PagesError(f"gunicorn exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                if _get(self.url + "/healthz", {}, timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise PagesError(f"gunicorn did not answer /healthz within 60 s:\n{self.tail()}")

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the master and its workers: our own process group
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._handle.close()


LUA = r"""
wrk.method = "GET"
%(headers)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; last_bad = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1; last_bad = status end
end
function done(summary, latency, requests)
  local bad_total, last = 0, 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
    if t:get("last_bad") ~= 0 then last = t:get("last_bad") end
  end
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests": %%d, "duration_us": %%.0f, "p50_us": %%.0f, "p95_us": %%.0f, ' ..
    '"p99_us": %%.0f, "max_us": %%.0f, "mean_us": %%.0f, "non_2xx": %%d, "last_bad_status": %%d, ' ..
    '"socket_errors": %%d, "bytes": %%.0f}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean, bad_total, last, e.connect + e.read + e.write + e.timeout, summary.bytes))
end
"""


def wrk_script(path: Path, headers: dict) -> Path:
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    path.write_text(LUA % {"headers": lines})
    return path


def run_wrk(wrk: str, url: str, script: Path, threads: int, connections: int, seconds: float) -> dict:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(script),
               url]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^BENCHJSON (\{.*\})$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not match:
        raise PagesError(f"wrk failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-500:]}")
    data = json.loads(match.group(1))
    seconds_run = data["duration_us"] / 1e6
    return {
        "requests": data["requests"], "rps": data["requests"] / seconds_run if seconds_run else 0.0,
        "p50_ms": data["p50_us"] / 1000, "p95_ms": data["p95_us"] / 1000, "p99_ms": data["p99_us"] / 1000,
        "max_ms": data["max_us"] / 1000, "mean_ms": data["mean_us"] / 1000, "non_2xx": data["non_2xx"],
        "last_bad_status": data["last_bad_status"], "socket_errors": data["socket_errors"],
        "bytes_per_request": data["bytes"] / max(data["requests"], 1),
    }


def summarize_rounds(rounds: list[dict]) -> dict:
    """A page's figures over its rounds: the median of each latency figure across rounds (and the spread of the
    rounds' medians); requests, errors and failures summed."""
    summary = {key: statistics.median(r[key] for r in rounds)
               for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "rps", "bytes_per_request")}
    summary["max_ms"] = max(r["max_ms"] for r in rounds)
    summary["p50_spread_ms"] = (min(r["p50_ms"] for r in rounds), max(r["p50_ms"] for r in rounds))
    for key in ("requests", "non_2xx", "socket_errors"):
        summary[key] = sum(r[key] for r in rounds)
    summary["last_bad_status"] = next((r["last_bad_status"] for r in reversed(rounds) if r["last_bad_status"]), 0)
    return summary


def _headers(page: dict, ids: dict) -> dict:
    if page["kind"] == "api":
        return {"Authorization": f"Token {ids['token']}", "Accept": "application/json"}
    return {"Cookie": ids["session_cookie"], "Accept": "text/html"}


def run_pages(args, env: dict, run, workdir: Path, results: dict, say) -> None:
    """Seed (fresh bench database), measure every page with wrk under gunicorn, count the queries; all into
    results["pages"]. A missing wrk is said in one line and its rows are marked not run."""
    say(f"Pages under load: seeding {args.pages_repositories} repositories, {args.pages_findings:,} findings, "
        f"{args.pages_issues:,} issues (and a small team for the query counts):")
    seeded = run({"task": "pages_seed", "fresh": True, "repositories": args.pages_repositories,
                  "findings": args.pages_findings, "issues": args.pages_issues, "small_repositories": 5,
                  "small_findings": 400, "small_issues": 120}, timeout=3600)
    pages: dict = {"seed": seeded, "rows": {}, "wrk": None, "options": {
        "threads": args.pages_threads, "connections": args.pages_connections, "seconds": args.pages_duration,
        "rounds": args.pages_rounds,
        "warmup": args.pages_warmup, "workers": args.pages_workers, "gunicorn_threads": 4}}
    results["pages"] = pages
    counts = seeded["big"]["counts"]
    say(f"  seeded in {seeded['seed_seconds']:.1f} s + VACUUM ANALYZE {seeded['vacuum_seconds']:.1f} s: "
        f"{counts['findings_finding']:,} findings, {counts['issues_trackerissue']:,} issues, "
        f"{counts['findings_scan']:,} scans, {counts['issues_issueevent']:,} issue events, "
        + ", ".join(f"{v:,} {k}" for k, v in counts.items() if k not in (
            "findings_finding", "issues_trackerissue", "findings_scan", "issues_issueevent"))
        + f"; database {seeded['database_size']}")
    say("  seed steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in seeded["big"]["steps"].items()))

    wrk = shutil.which("wrk")
    if not wrk:
        say("  wrk not found: the load rows are not run (apt-get install wrk)")
    else:
        pages["wrk"] = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        ids = seeded["big"]
        with Gunicorn(env, workdir, args.pages_workers, 4) as server:
            pages["gunicorn"] = " ".join(server.command[2:])
            measured = []
            for page in PAGES:
                if args.pages_filter and not re.search(args.pages_filter, page["key"]):
                    continue
                headers = _headers(page, ids)
                path = page_path(page, ids)
                status, body, location = _get(server.url + path, headers)
                if status == 200 and page.get("next"):
                    path = _next_path(json.loads(body))
                    status, body, location = _get(server.url + path, headers)
                row = {"path": path, "check_status": status, "bytes": len(body), "rounds": []}
                pages["rows"][page["key"]] = row
                if status != 200:
                    row["error"] = f"HTTP {status}" + (f" to {location}" if location else "")
                    say(f"  {page['label']:32} {path}: {row['error']}; not measured")
                    continue
                script = wrk_script(workdir / f"wrk-{page['key']}.lua", headers)
                if args.pages_warmup:
                    run_wrk(wrk, server.url + path, script, args.pages_threads, args.pages_connections,
                            args.pages_warmup)
                measured.append((page, row, script))
            # Round after round over all the pages, so that a slow moment of the machine falls on one round of
            # several pages rather than on all the rounds of one page.
            for number in range(1, args.pages_rounds + 1):
                for page, row, script in measured:
                    row["rounds"].append(run_wrk(wrk, server.url + row["path"], script, args.pages_threads,
                                                 args.pages_connections, args.pages_duration))
                    last = row["rounds"][-1]
                    say(f"  round {number}/{args.pages_rounds} {page['label']:32} median {last['p50_ms']:6.1f} ms, "
                        f"p95 {last['p95_ms']:6.1f} ms, {last['rps']:6.1f} req/s, {last['non_2xx']} non-2xx")
            for page, row, _script in measured:
                row.update(summarize_rounds(row["rounds"]))
                if not row["requests"]:
                    say(f"  {page['label']:32} no answer within {args.pages_duration:g} s ({row['path']})")
                    continue
                say(f"  {page['label']:32} median {row['p50_ms']:6.1f} ms, p95 {row['p95_ms']:6.1f} ms "
                    f"(medians of {len(row['rounds'])} rounds), {row['rps']:6.1f} req/s, {row['non_2xx']} non-2xx "
                    f"({row['path']})")
            if server.proc.poll() is not None:
                raise PagesError(f"gunicorn died during the run:\n{server.tail()}")
    counted = run({"task": "pages_queries", "big": seeded["big"], "small": seeded["small"]}, timeout=900)
    pages["queries"] = {key: value for key, value in counted.items() if isinstance(value, dict)}
    say("  queries per page (big team / small team): " + ", ".join(
        f"{key} {q['big']['queries']}/{q['small']['queries']}" for key, q in pages["queries"].items()))


TASKS = {"pages_seed": seed, "pages_queries": queries}
