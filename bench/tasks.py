"""What a benchmark child process does (bench/run.py starts one per measurement, so each has its own peak RSS).

Every task takes a JSON-able spec and returns a JSON-able dict. Django is set up by the caller (run.py --child).
"""

from __future__ import annotations

import cProfile
import io
import math
import pstats
import re
import threading
import time
import tracemalloc
from collections import Counter
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

# --- measuring helpers ---------------------------------------------------------------------------------------------

_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def statement_kind(sql: str) -> str:
    """'INSERT findings_finding', 'SELECT findings_finding', 'SAVEPOINT', ... (from the first 4,000 characters)."""
    head = sql[:4000].lstrip()
    verb = head.split(None, 1)[0].upper() if head else "?"
    match = _TABLE.search(head)
    return f"{verb} {match.group(1)}" if match and verb in ("SELECT", "INSERT", "UPDATE", "DELETE") else verb


class SqlCounter:
    """connection.execute_wrapper that counts statements and the time spent in them, per kind."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.thread_seconds = 0.0  # of those, in other threads (the import's writer) than the caller's
        self.caller = threading.get_ident()
        self.kinds: dict[str, list[float]] = {}  # kind -> [count, seconds, slowest]
        self.lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.record(statement_kind(sql), time.perf_counter() - start)

    def record(self, kind: str, elapsed: float) -> None:
        with self.lock:
            self.count += 1
            self.seconds += elapsed
            if threading.get_ident() != self.caller:
                self.thread_seconds += elapsed
            entry = self.kinds.setdefault(kind, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += elapsed
            entry[2] = max(entry[2], elapsed)

    def as_dict(self) -> dict[str, Any]:
        kinds = sorted(self.kinds.items(), key=lambda kv: -kv[1][1])
        return {
            "statements": self.count,
            "sql_seconds": self.seconds,
            "thread_sql_seconds": self.thread_seconds,
            "kinds": [{"kind": k, "count": int(v[0]), "seconds": v[1], "slowest": v[2]} for k, v in kinds],
        }


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux: writing 5 to clear_refs), so the peak measured is that of what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


FINDINGS_TABLES = ("findings_finding", "findings_findingchange")


def fresh_database(hold_autovacuum: bool = False) -> None:
    """The parent made this database a fresh copy of the migrated template (never analyzed, like a new install).
    Checkpoint, so that no earlier run's dirty pages are written during this one; with `hold_autovacuum`, keep
    autovacuum off the findings tables until release_autovacuum(), so a follow-up run can see the statistics
    as they are right after a big import, whenever the autovacuum launcher happens to wake up."""
    with connection.cursor() as cursor:
        if hold_autovacuum:
            for table in FINDINGS_TABLES:
                cursor.execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = off)')
        cursor.execute("CHECKPOINT")


def release_autovacuum() -> None:
    with connection.cursor() as cursor:
        for table in FINDINGS_TABLES:
            cursor.execute(f'ALTER TABLE "{table}" RESET (autovacuum_enabled)')


def prepare_existing(analyze: bool) -> None:
    """Before an import into existing data: optionally ANALYZE (what autovacuum does within about a minute of a
    big change; without it the planner still believes the findings table is empty), then CHECKPOINT."""
    with connection.cursor() as cursor:
        if analyze:
            cursor.execute("ANALYZE")
        cursor.execute("CHECKPOINT")


def time_commits(counter: SqlCounter):
    """Count COMMIT as a statement too: the findings' foreign keys are DEFERRABLE INITIALLY DEFERRED, so their
    checks run at commit, outside execute_wrapper. Returns a function that undoes the patch."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    original = wrapper._commit

    def timed_commit():
        start = time.perf_counter()
        try:
            return original()
        finally:
            counter.record("COMMIT", time.perf_counter() - start)

    wrapper._commit = timed_commit
    return lambda: delattr(wrapper, "_commit")


def planner_view() -> dict:
    """What the planner believes about the findings table (pg_class.reltuples: -1 = never analyzed) against what
    is there: stale statistics make it pick the wrong index for the per-batch lookup."""
    from findings.models import Finding

    table = Finding._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
        estimate = cursor.fetchone()[0]
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        actual = cursor.fetchone()[0]
    return {"estimate": estimate, "actual": actual}


def lookup_plan(repository) -> list[str]:
    """The plan PostgreSQL picks at this moment for the import's per-batch statement (findings.bulk.SEEN: the
    batch's fingerprints, BATCH_SIZE of them, taken from the repository). EXPLAIN alone does not run it."""
    from django.utils import timezone

    from findings import bulk
    from findings.models import Finding
    from findings.services import BATCH_SIZE

    sample = list(Finding.objects.filter(repository=repository).order_by("?")
                  .values_list("fingerprint", flat=True)[:BATCH_SIZE])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + bulk._sql(bulk.SEEN), {  # noqa: S608 - the module's own constant statement
            "repo": repository.pk, "scan": 0, "now": timezone.now(), "fingerprints": sample})
        lines = [row[0] for row in cursor.fetchall()]
    return [line for line in lines if "Filter" not in line and "Cond" not in line][:5]


# --- tasks ---------------------------------------------------------------------------------------------------------


def migrate(spec: dict) -> dict:
    from django.core.management import call_command

    start = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "synchronous_commit", "fsync", "max_wal_size", "work_mem"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return {"seconds": time.perf_counter() - start, "postgres": version, "postgres_settings": settings}


def import_file(spec: dict) -> dict:
    """Import spec["path"] into repository spec["repository"] (created on an empty database when spec["fresh"]).

    spec["how"]: "service" (findings.services.import_scan) or "naive" (per-finding ORM baseline, below).
    spec["tracemalloc"] / spec["profile"]: measure the Python heap peak / profile the call (both slow it down).
    """
    from findings.models import Finding, Repository
    from findings.services import BATCH_SIZE, import_scan

    if spec.get("fresh"):
        fresh_database(spec.get("hold_autovacuum", False))
        repository = Repository.objects.create(name=spec["repository"])
    else:
        prepare_existing(spec.get("analyze", True))
        repository = Repository.objects.get(name=spec["repository"])
    importer = import_scan if spec.get("how", "service") == "service" else naive_import
    counter = SqlCounter()
    profiler = cProfile.Profile() if spec.get("profile") else None
    base_rss = _status_kb("VmRSS")
    hwm_reset = reset_peak_rss()
    if spec.get("tracemalloc"):
        tracemalloc.start()
    planner = planner_view()
    if not spec.get("fresh"):
        planner["lookup_plan"] = lookup_plan(repository)
    undo = time_commits(counter)
    start = time.perf_counter()
    with connection.execute_wrapper(counter):
        if profiler:
            profiler.enable()
        scan = importer(repository=repository, path=spec["path"])
        if profiler:
            profiler.disable()
    seconds = time.perf_counter() - start
    undo()
    if spec.get("release_autovacuum"):
        release_autovacuum()
    heap_peak = tracemalloc.get_traced_memory()[1] if spec.get("tracemalloc") else None
    if spec.get("tracemalloc"):
        tracemalloc.stop()
    result = {
        "seconds": seconds,
        "base_rss_kb": base_rss,
        "peak_rss_kb": _status_kb("VmHWM"),
        "peak_rss_reset": hwm_reset,
        "heap_peak_bytes": heap_peak,
        "counts": scan.counts,
        "status": scan.status,
        "error": scan.error,
        "open_findings": Finding.objects.filter(repository=repository, status=Finding.Status.OPEN).count(),
        "batch_size": BATCH_SIZE,
        "planner_before": planner,
        **counter.as_dict(),
    }
    if profiler:
        result["profile"] = _profile_text(profiler)
    return result


def _profile_text(profiler: cProfile.Profile) -> dict[str, str]:
    out = {}
    for key, count in (("cumulative", 15), ("tottime", 15)):
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.strip_dirs().sort_stats(key).print_stats(count)
        text = buffer.getvalue()
        # keep the header line of the table and the rows
        out[key] = text[text.find("   ncalls"):].rstrip() if "   ncalls" in text else text
        out[f"{key}_total"] = f"{stats.total_tt:.2f}"
    return out


def parse_only(spec: dict) -> dict:
    """The parser alone (both passes, every finding built) plus the fingerprints: no database."""
    from findings.fingerprint import compute_fingerprint
    from findings.importers import parse_scan

    start = time.perf_counter()
    parsed = parse_scan(spec["path"])
    structure = time.perf_counter() - start
    findings = list(parsed.findings)
    parsed_at = time.perf_counter() - start
    for item in findings:
        compute_fingerprint(1, item.file_path, item.start_line, item.rule_id)
    return {"seconds": time.perf_counter() - start, "structure_pass": structure, "parse_seconds": parsed_at,
            "fingerprint_seconds": time.perf_counter() - start - parsed_at, "findings": len(findings)}


def naive_import(*, repository, path):
    """The baseline the service is compared with: what a straightforward ORM import does, one finding at a time
    (a lookup, then create() or save(), and a FindingChange when its state changes) -- in one transaction, like the
    service, so the
    difference is the statement count, not commits."""
    from findings.fingerprint import compute_fingerprint
    from findings.importers import parse_scan
    from findings.models import SEVERITY_RANK, Finding, FindingChange, Scan

    parsed = parse_scan(path)
    scan = Scan.objects.create(repository=repository, format=parsed.format, file_name=str(path),
                               status=Scan.Status.PROCESSING)
    counts = Counter()
    now = timezone.now()
    seen: set[str] = set()
    with transaction.atomic():
        for item in parsed.findings:
            counts["results"] += 1
            fingerprint = compute_fingerprint(repository.pk, item.file_path, item.start_line, item.rule_id)
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            finding = Finding.objects.filter(repository=repository, fingerprint=fingerprint).first()
            if finding is None:
                finding = Finding.objects.create(
                    repository=repository, fingerprint=fingerprint, rule_id=item.rule_id[:500],
                    title=(item.rule_title or item.rule_id)[:500], severity=item.severity,
                    severity_rank=SEVERITY_RANK[item.severity], description=item.message,
                    file_path=item.file_path[:1000], start_line=item.start_line, end_line=item.end_line,
                    tool=item.tool[:200], snippet=item.snippet, partial_fingerprints=item.partial_fingerprints,
                    help_uri=item.help_uri[:1000], first_scan=scan, last_scan=scan,
                )
                counts["new"] += 1
            else:
                if finding.status != Finding.Status.OPEN:
                    finding.status, finding.resolved_at, finding.resolved_scan = Finding.Status.OPEN, None, None
                    finding.reappeared_scan = scan
                    FindingChange.objects.create(finding=finding, scan=scan, kind=FindingChange.Kind.REAPPEARED)
                    counts["reappeared"] += 1
                else:
                    counts["unchanged"] += 1
                finding.last_scan = scan
                finding.save()
        gone = Finding.objects.filter(repository=repository, status=Finding.Status.OPEN, tool__in=parsed.tools)
        for finding in gone.exclude(last_scan=scan):
            finding.status, finding.resolved_at, finding.resolved_scan = Finding.Status.RESOLVED, now, scan
            finding.save()
            FindingChange.objects.create(finding=finding, scan=scan, kind=FindingChange.Kind.RESOLVED)
            counts["resolved"] += 1
        scan.status = Scan.Status.COMPLETED
        scan.counts = dict(counts)
        scan.completed_at = timezone.now()
        scan.save()
    return scan


# --- pipeline ------------------------------------------------------------------------------------------------------

GITHUB_TOKEN = "ghp_BenchmarkToken0123456789abcdefABCDEF"


def _bench_github_class():
    from trackers.fakes.github import FakeGitHub

    class BenchGitHub(FakeGitHub):
        """FakeGitHub on a clock `scale` times faster than the wall clock, counting the answers it gives.

        Its rate-limit answers are in its own (compressed) seconds; they are translated back to wall-clock
        seconds -- retry-after divided by the scale, x-ratelimit-reset mapped back onto the wall clock -- so a
        client that honours them waits as long as the compressed world asks, not `scale` times longer."""

        def __init__(self, *args: Any, scale: float, t0: float, **kwargs: Any) -> None:
            self.scale = scale
            self.t0 = t0
            self.statuses: Counter[int] = Counter()
            self.by_route: Counter[str] = Counter()
            self.limited: list[dict[str, Any]] = []
            super().__init__(*args, clock=lambda: t0 + (time.time() - t0) * scale, **kwargs)

        def _finish(self, response, bucket, request_id):
            response = super()._finish(response, bucket, request_id)
            self.statuses[response.status] += 1
            headers = response.headers
            if response.status in (403, 429):
                self.limited.append({
                    "at_wall_s": round(time.time() - self.t0, 3),
                    "status": response.status,
                    "retry_after_fake_s": headers.get("retry-after"),
                    "message": str((response.body or {}).get("message", ""))[:80],
                    "created_so_far": sum(len(v) for v in self._creations.values()),
                })
            if headers.get("retry-after"):
                headers["retry-after"] = str(max(1, math.ceil(float(headers["retry-after"]) / self.scale)))
            if headers.get("x-ratelimit-reset"):
                fake_reset = float(headers["x-ratelimit-reset"])
                headers["x-ratelimit-reset"] = str(math.ceil(self.t0 + (fake_reset - self.t0) / self.scale))
            return response

        def _dispatch(self, http):
            method, path = http.command, http.path.split("?", 1)[0]
            kind = re.sub(r"/\d+", "/N", re.sub(r"^/repos/[^/]+/[^/]+", "/repos/R", path))
            with self.lock:
                self.by_route[f"{method} {kind}"] += 1
            return super()._dispatch(http)

    return BenchGitHub


def minimum_wall_time(n: int, scale: float, latency: float = 0.0) -> float:
    """Earliest time (wall seconds) the n-th creation can be answered under GitHub's documented limits, counted
    as GitHub counts them (sliding windows: at most 80 creations in any minute and 500 in any hour) plus at least
    1 s between writes, all `scale` times faster; requests made one at a time, each taking `latency` seconds."""
    times: list[float] = []  # compressed seconds at which each creation is sent
    for i in range(n):
        t = 0.0
        if times:
            t = max(t, times[-1] + 1.0, times[-1] + latency * scale)
        if i >= 80:
            t = max(t, times[i - 80] + 60.0)
        if i >= 500:
            t = max(t, times[i - 500] + 3600.0)
        times.append(t)
    return (times[-1] / scale + latency) if times else 0.0


def pipeline(spec: dict) -> dict:
    """record_scan of spec["findings"] new findings, plan_scan, then sync_repository in a loop (sleeping the
    retry_in it returns) until every row is synced or spec["deadline"] seconds have passed."""
    from django.conf import settings

    from findings.importers.base import ParsedFinding
    from findings.models import Repository
    from findings.services import record_scan
    from issues.models import TrackerIssue
    from issues.services import plan_scan, sync_repository
    from trackers import services as tracker_services
    from trackers.adapters.base import MARKER_PREFIX

    n, scale, latency = spec["findings"], float(spec["scale"]), float(spec["latency"])
    fresh_database()
    settings.CERTIFAI_RATE_SCALE = scale
    t0 = time.time()
    fake = _bench_github_class()(
        tokens={GITHUB_TOKEN: {"login": "certifai-bot", "repos": {"acme/app": "write"}}},
        creation_limit_per_minute=80, creation_limit_per_hour=500, scale=scale, t0=t0,
    ).start()
    fake.latency = latency
    try:
        repository = Repository.objects.create(name="acme/app", url="https://github.com/acme/app")
        tracker_services.save_tracker(repository, {"type": "github", "repository": "acme/app", "token": GITHUB_TOKEN,
                                                   "api_url": fake.url, "min_severity": "low"})
        findings = [
            ParsedFinding(tool="CodeQL", rule_id=f"py/rule-{i % 40:02d}", rule_title=f"Rule {i % 40}",
                          severity=("critical", "high", "medium")[i % 3],
                          message=f"User input reaches a dangerous sink at line {i + 1}. " * 8,
                          file_path=f"src/module_{i % 50:02d}.py", start_line=i + 1, end_line=i + 2,
                          snippet=f"cursor.execute('SELECT ' + request.args['q{i}'])\n",
                          partial_fingerprints={"primaryLocationLineHash": f"{i:016x}:1"})
            for i in range(n)
        ]
        counter = SqlCounter()
        reset_peak_rss()
        sync_calls = 0
        slept = 0.0
        results = Counter()
        errors: Counter[str] = Counter()
        start = time.monotonic()
        deadline = start + float(spec["deadline"])
        with connection.execute_wrapper(counter):
            scan = record_scan(repository=repository, findings=findings, tools=["CodeQL"])
            recorded = time.monotonic() - start
            planned = plan_scan(scan)
            planned_at = time.monotonic() - start
            rows = TrackerIssue.objects.filter(repository=repository)
            timed_out = paused = False
            while True:
                result = sync_repository(repository.pk)
                sync_calls += 1
                results["done"] += result.done
                results["failed"] += result.failed
                errors.update(e[:120] for e in result.errors)
                if not rows.filter(sync_state=TrackerIssue.Sync.PENDING).exists():
                    break  # all synced, or some failed for good (reported)
                if result.paused:
                    paused = True
                    break
                wait = max(result.retry_in or 0.0, 0.01)
                if time.monotonic() + wait > deadline:
                    timed_out = True
                    break
                time.sleep(wait)
                slept += wait
        wall = time.monotonic() - start
        synced = rows.filter(sync_state=TrackerIssue.Sync.SYNCED).count()
        markers: Counter[str] = Counter()
        with fake.lock:
            issues = [i for i in fake.repos["acme/app"].issues.values() if not i["pull_request"]]
            for issue in issues:
                markers.update(re.findall(re.escape(MARKER_PREFIX) + r"([0-9a-f]{64})", issue["body"] or ""))
            statuses = dict(fake.statuses)
            by_route = dict(fake.by_route)
            limited = list(fake.limited)
        return {
            "seconds": wall,
            "record_seconds": recorded,
            "plan_seconds": planned_at - recorded,
            "planned": planned,
            "sync_calls": sync_calls,
            "slept_seconds": slept,
            "timed_out": timed_out,
            "paused": paused,
            "synced_rows": synced,
            "done": results["done"],
            "failed": results["failed"],
            "errors": errors.most_common(5),
            "issues": len(issues),
            "distinct_markers": len(markers),
            "duplicates": sum(c - 1 for c in markers.values() if c > 1),
            "statuses": statuses,
            "limited_answers": sum(v for k, v in statuses.items() if k in (403, 429)),
            "limited_detail": limited[:10],
            "requests": sum(by_route.values()),
            "by_route": by_route,
            "peak_rss_kb": _status_kb("VmHWM"),
            "minimum_limits_only": minimum_wall_time(n, scale),
            "minimum_with_latency": minimum_wall_time(n, scale, latency),
            **counter.as_dict(),
        }
    finally:
        fake.stop()


TASKS = {"migrate": migrate, "import": import_file, "parse": parse_only, "pipeline": pipeline}


def _pages_task(name: str):
    def task(spec: dict) -> dict:
        from bench import pages  # the pages benchmark (bench/pages.py): seed the big dataset, count queries

        return pages.TASKS[name](spec)

    return task


TASKS.update({name: _pages_task(name) for name in ("pages_seed", "pages_queries")})


def _scale_task(module: str, name: str):
    def task(spec: dict) -> dict:
        import importlib

        return getattr(importlib.import_module(f"bench.{module}"), name)(spec)

    return task


TASKS.update({"matching": _scale_task("matching", "matching"), "trackers": _scale_task("trackers", "parallel"),
              "sync_profile": _scale_task("trackers", "sync_profile")})
