"""Certifai benchmarks against PostgreSQL: `make bench` (see bench/README.md).

Runs every measurement in a child process of its own (this script with --child), so that each has its own peak
RSS; prints a markdown table and writes it, with the machine and the details, to bench/REPORT.md. The exit status
is 0 when the benchmarks ran, whether or not their targets were met (FAIL is marked in the table); it is 2 when they
could not run (no PostgreSQL, a child crashed).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import pages, report, sarif_gen  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/certifai"
MB = 1024 * 1024


# --- child side ----------------------------------------------------------------------------------------------------


def child_main(spec_json: str, out: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certifai.settings")
    import django

    django.setup()
    from bench import tasks

    spec = json.loads(spec_json)
    result = tasks.TASKS[spec["task"]](spec)
    Path(out).write_text(json.dumps(result))


# --- parent side ---------------------------------------------------------------------------------------------------


class BenchError(Exception):
    pass


def bench_database(url: str) -> tuple[str, dict]:
    """The benchmark's own database next to the one `url` names: its name gets a `_bench` suffix, so the script
    never drops a database someone uses."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise BenchError(f"DATABASE_URL must be a PostgreSQL URL (postgres://...), not {parts.scheme!r}")
    name = unquote(parts.path.lstrip("/")) or "certifai"
    if not name.endswith("_bench"):
        name += "_bench"
    params = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 5432,
              "user": unquote(parts.username or "postgres"), "password": unquote(parts.password or "") or None}
    return urlunsplit(parts._replace(path="/" + name)), {**params, "name": name}


def _admin(db: dict):
    import psycopg2

    try:
        conn = psycopg2.connect(host=db["host"], port=db["port"], user=db["user"], password=db["password"],
                                dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        raise BenchError(f"can't reach PostgreSQL at {db['host']}:{db['port']}: {str(exc).strip()}") from None
    conn.autocommit = True
    return conn


def recreate_database(db: dict, template: str | None = None, drop_only: bool = False) -> None:
    """Drop the database `db["name"]` and create it again, empty or as a copy of `template`."""
    from psycopg2 import sql

    conn = _admin(db)
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db["name"])))
        if not drop_only:
            query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["name"]))
            if template:
                query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(db["name"]),
                                                                         sql.Identifier(template))
            cursor.execute(query)
    conn.close()


class Runner:
    """Runs one task in a child process. A task that wants a fresh database (spec["fresh"]) gets one: the bench
    database is dropped and cloned from the migrated template first."""

    def __init__(self, env: dict[str, str], workdir: Path, verbose: bool, db: dict, template: str):
        self.env = env
        self.workdir = workdir
        self.verbose = verbose
        self.db = db
        self.template = template
        self.count = 0

    def __call__(self, spec: dict, timeout: float = 600) -> dict:
        self.count += 1
        if spec.get("fresh"):
            recreate_database(self.db, template=self.template)
        out = self.workdir / f"result-{self.count}.json"
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec), "--out", str(out)],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        )
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-25:])
            raise BenchError(f"benchmark child {spec['task']} failed (exit {proc.returncode}):\n{tail}")
        if self.verbose and proc.stderr.strip():
            print(proc.stderr.rstrip(), file=sys.stderr)
        result = json.loads(out.read_text())
        result["child_seconds"] = time.monotonic() - started
        result["stderr_lines"] = len(proc.stderr.splitlines())
        return result


def say(text: str) -> None:
    print(text, flush=True)


def fmt_kb(kb: float) -> str:
    return f"{kb / 1024:.0f} MB"


def import_benchmarks(args, run, files: dict, results: dict) -> None:
    """At each size: a fresh import (empty database), then re-imports into the same repository: the same file
    (all unchanged) and the 10%-changed file, after an ANALYZE as autovacuum would have made by then. At 100,000
    and more, also the same re-import straight after the fresh import, with autovacuum held off: only the ANALYZE
    that a big first import makes itself informs the planner."""
    for size in args.sizes:
        runs = args.runs_100k if size >= 100_000 else args.runs
        stale = size >= 100_000
        steps = [("new", files[size], {"fresh": True, "hold_autovacuum": stale})]
        if stale:
            steps.append(("unchanged-stale", files[size], {"analyze": False, "release_autovacuum": True}))
        steps += [("unchanged", files[size], {"analyze": True}),
                  ("changed", files[(size, "changed")], {"analyze": True})]
        for i in range(runs):
            repo = f"bench/import-{size}-{i}"
            for scenario, path, options in steps:
                result = run({"task": "import", "path": str(path), "repository": repo, **options})
                if result["status"] != "completed":
                    raise BenchError(f"import of {path} failed: {result['error']}")
                results.setdefault(("import", scenario, size), []).append(result)
                say(f"  {scenario:15} {size:>7,}  run {i + 1}/{runs}: {result['seconds']:6.2f} s, "
                    f"{size / result['seconds']:7,.0f} findings/s, peak RSS {fmt_kb(result['peak_rss_kb'])}, "
                    f"{result['statements']} statements, {report.short_counts(result['counts'])}")
        if args.heap and (size < 100_000 or args.heap_100k):
            result = run({"task": "import", "path": str(files[size]), "repository": f"bench/heap-{size}",
                          "fresh": True, "tracemalloc": True})
            results[("heap", size)] = result
            say(f"  {'new, tracemalloc':15} {size:>7,}  Python heap peak {result['heap_peak_bytes'] / MB:.0f} MB "
                f"(this run took {result['seconds']:.1f} s under tracemalloc; its time is not used)")


def scale_benchmarks(args, run, results: dict) -> None:
    """Matching against existing issues, the sync's profile, and trackers in parallel on real workers."""
    if args.matching_sizes:
        say("Matching (issues.services.plan_scan, a scan against as many existing issues):")
    for size in args.matching_sizes:
        for i in range(args.matching_runs):
            result = run({"task": "matching", "fresh": True, "findings": size}, timeout=1800)
            results.setdefault("matching", []).append(result)
            say(f"  {size:>7,} run {i + 1}/{args.matching_runs}: " + ", ".join(
                f"{name} {result[name]['seconds']:.2f} s / {result[name]['statements']} statements"
                for name in ("claim", "changed", "reappeared")))
    if args.sync_profile_findings:
        result = run({"task": "sync_profile", "fresh": True, "findings": args.sync_profile_findings}, timeout=900)
        results["sync_profile"] = result
        say(f"Sync profile: {result['synced']} issues in {result['seconds']:.1f} s, {result['per_issue_ms']:.0f} ms "
            f"and {result['statements'] / max(result['synced'], 1):.1f} statements per issue")
    if args.trackers:
        say(f"Trackers in parallel: real Celery workers ({args.trackers_concurrency} processes), four fake trackers, "
            f"Gitea answering in {args.slow_latency:g} s:")
        result = run({"task": "trackers", "fresh": True, "scale": args.scale, "slow_latency": args.slow_latency,
                      "concurrency": args.trackers_concurrency, "deadline": 600}, timeout=900)
        results["trackers"] = result
        if "error" in result:
            say(f"  not run: {result['error']}")
        for name, row in result.get("trackers", {}).items():
            done = f"{row['seconds']:.1f} s" if row["seconds"] is not None else "not finished"
            say(f"  {name:<7} {row['synced']:>4}/{row['issues']} issues in {done}, {row['limited_answers']} answers "
                f"403/429, at most {row['max_in_flight']} requests at once")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="1k and 10k only, one run each, a short pipeline")
    parser.add_argument("--sizes", default="1000,10000,100000", help="import sizes (results per file)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size below 100,000 (median reported)")
    parser.add_argument("--runs-100k", type=int, default=3, help="runs at 100,000 results and more")
    parser.add_argument("--naive-size", type=int, default=10_000, help="size of the per-finding ORM baseline")
    parser.add_argument("--naive-runs", type=int, default=1)
    parser.add_argument("--no-heap", dest="heap", action="store_false", help="skip the tracemalloc runs")
    parser.add_argument("--heap-100k", action="store_true",
                        help="a tracemalloc run at 100,000 results too (it takes ~7x the import time: ~2 minutes)")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="skip the cProfile run")
    parser.add_argument("--pipeline-findings", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=120.0, help="time compression of the pipeline benchmark")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake GitHub takes per request")
    parser.add_argument("--burst-scale", type=float, default=240.0,
                        help="second pipeline run with the latency compressed too, at this scale (0: skip it)")
    parser.add_argument("--pipeline-deadline", type=float, default=150.0, help="give up the pipeline after this")
    parser.add_argument("--no-pipeline", dest="pipeline", action="store_false")
    parser.add_argument("--no-pages", dest="pages", action="store_false",
                        help="skip the pages benchmark (seeded dataset, gunicorn, wrk, query counts)")
    parser.add_argument("--pages-only", action="store_true", help="only the pages benchmark (no import, pipeline)")
    parser.add_argument("--pages-findings", type=int, help="findings seeded for the pages (500,000; --quick 20,000)")
    parser.add_argument("--pages-issues", type=int, help="tracker issues seeded for the pages (100,000; --quick 4,000)")
    parser.add_argument("--pages-repositories", type=int, default=200)
    parser.add_argument("--pages-duration", type=float,
                        help="seconds of wrk load per page and round (5; --quick 3)")
    parser.add_argument("--pages-rounds", type=int, default=3,
                        help="rounds over all the pages; each figure is the median of the rounds' (3; --quick 1)")
    parser.add_argument("--pages-warmup", type=float, default=2.0, help="seconds of unmeasured load first")
    parser.add_argument("--pages-threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--pages-connections", type=int, default=2,
                        help="wrk connections (requests in flight; 2: one per core here)")
    parser.add_argument("--pages-workers", type=int, default=3, help="gunicorn processes (4 threads each)")
    parser.add_argument("--pages-filter", default="", help="regular expression: only the pages whose key matches")
    parser.add_argument("--matching-sizes", default="1000,10000,100000",
                        help="findings (and issues) of the matching benchmark (plan_scan against existing issues)")
    parser.add_argument("--matching-runs", type=int, default=3, help="runs per matching size (median reported)")
    parser.add_argument("--pipeline-runs", type=int, default=3, help="runs of each pipeline variant (median)")
    parser.add_argument("--no-trackers", dest="trackers", action="store_false",
                        help="skip the trackers-in-parallel benchmark (real Celery workers, four fake trackers)")
    parser.add_argument("--trackers-concurrency", type=int, default=4, help="worker pool processes")
    parser.add_argument("--slow-latency", type=float, default=0.5, help="seconds the slow (Gitea) fake takes")
    parser.add_argument("--sync-profile-findings", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the generated files and the bench database")
    parser.add_argument("--report", default=str(ROOT / "bench" / "REPORT.md"))
    parser.add_argument("-v", "--verbose", action="store_true", help="show the children's log output")
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.out)
        return 0
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if args.quick:
        args.sizes = [s for s in args.sizes if s <= 10_000] or [1000]
        args.runs, args.pipeline_findings, args.naive_size = 1, 200, min(args.naive_size, 2000)
        args.matching_runs = args.pipeline_runs = 1
    quick = args.quick
    args.pages_findings = args.pages_findings or (20_000 if quick else 500_000)
    args.pages_issues = args.pages_issues or (4_000 if quick else 100_000)
    args.pages_duration = args.pages_duration or (3.0 if quick else 5.0)
    if quick:
        args.pages_rounds = 1
    args.matching_sizes = sorted({int(s) for s in args.matching_sizes.split(",") if s.strip()})
    if quick:
        args.matching_sizes = [s for s in args.matching_sizes if s <= 10_000] or [1000]
        args.sync_profile_findings = min(args.sync_profile_findings, 100)
    if args.naive_size and args.naive_size not in args.sizes:
        args.sizes = sorted({*args.sizes, args.naive_size})

    started = time.monotonic()
    load_at_start = report.load_average()
    given_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        database_url, db = bench_database(given_url)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    redis_url = os.environ.get("REDIS_URL", "")
    workdir = Path(tempfile.mkdtemp(prefix="certifai-bench-"))
    queue = f"certifai-bench-{os.getpid()}"
    from cryptography.fernet import Fernet

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "certifai.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # The scan_completed signal enqueues the pipeline task: to a queue of our own that no worker reads.
        "CERTIFAI_QUEUE": queue,
        "CERTIFAI_LOCAL_DIR": str(workdir / "local"),
        "CERTIFAI_SECRET_KEY": secrets.token_urlsafe(40),
        "CERTIFAI_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CERTIFAI_LOG_LEVEL": os.environ.get("CERTIFAI_LOG_LEVEL", "WARNING"),
        # The fake GitHub listens on 127.0.0.1 over http (trackers/netguard.py refuses that unless allowed).
        "CERTIFAI_TRACKER_ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
    }
    template_db = {**db, "name": db["name"] + "_template"}
    template_url = urlunsplit(urlsplit(database_url)._replace(path="/" + template_db["name"]))
    run = Runner(env, workdir, args.verbose, db, template_db["name"])
    results: dict = {"args": vars(args), "database": db["name"]}
    try:
        say(f"Certifai benchmarks: database {db['name']} on {db['host']}:{db['port']} (cloned from "
            f"{template_db['name']} for every fresh run; both dropped at the end), "
            f"Redis {redis_url or '(none: file broker in a temporary folder)'}")
        # Migrated once into a template; every fresh run gets a clone of it (never analyzed, like a new install).
        recreate_database(template_db)
        results["migrate"] = Runner({**env, "DATABASE_URL": template_url}, workdir, args.verbose, {}, "")(
            {"task": "migrate"})
        say(f"  migrated in {results['migrate']['seconds']:.1f} s; {results['migrate']['postgres'].split(',')[0]}")

        if args.pages_only:
            args.sizes, args.naive_size, args.pipeline, args.profile, args.heap = [], 0, False, False, False
            args.matching_sizes, args.trackers, args.sync_profile_findings = [], False, 0
        files: dict = {}
        gen_start = time.monotonic()
        for size in args.sizes:
            for variant, changed in (("", 0.0), ("changed", 0.1)):
                path = workdir / f"scan-{size}{'-' + variant if variant else ''}.sarif"
                info = sarif_gen.generate(path, size, changed=changed)
                files[(size, variant) if variant else size] = path
                results.setdefault("files", {})[path.name] = info
        results["generate_seconds"] = time.monotonic() - gen_start
        if args.sizes:
            biggest = results["files"][f"scan-{args.sizes[-1]}.sarif"]
            say(f"  generated {len(files)} SARIF files in {results['generate_seconds']:.1f} s "
                f"(largest: {biggest['results']:,} results, {biggest['bytes'] / MB:.0f} MB, "
                f"{biggest['bytes'] / biggest['results']:,.0f} bytes/result)")

            say("Import (findings.services.import_scan):")
            import_benchmarks(args, run, files, results)

            size = args.sizes[-1]
            results[("parse", size)] = run({"task": "parse", "path": str(files[size])})
            say(f"  parser alone    {size:>7,}: {results[('parse', size)]['parse_seconds']:.2f} s (both passes), "
                f"fingerprints {results[('parse', size)]['fingerprint_seconds']:.2f} s")

        if args.naive_size:
            say(f"Per-finding ORM baseline at {args.naive_size:,}:")
            for i in range(args.naive_runs):
                result = run({"task": "import", "path": str(files[args.naive_size]), "how": "naive",
                              "repository": f"bench/naive-{i}", "fresh": True}, timeout=900)
                results.setdefault(("naive", args.naive_size), []).append(result)
                say(f"  naive new {args.naive_size:>7,}  run {i + 1}/{args.naive_runs}: {result['seconds']:6.2f} s, "
                    f"{args.naive_size / result['seconds']:8,.0f} findings/s, {result['statements']} statements")

        if args.profile:
            size = args.sizes[-1]
            result = run({"task": "import", "path": str(files[size]), "repository": "bench/profile", "fresh": True,
                          "profile": True})
            results[("profile", size)] = result
            say(f"  cProfile run of the {size:,} import: {result['seconds']:.1f} s under the profiler")

        if args.pipeline:
            variants = [("as specified", args.scale, args.latency)]
            if args.burst_scale:
                # The tracker's latency compressed like everything else: 50 ms of tracker time.
                variants.append(("latency compressed too", args.burst_scale, args.latency / args.burst_scale))
            for name, scale, latency in variants:
                say(f"Pipeline, {name}: {args.pipeline_findings:,} new findings -> fake GitHub, "
                    f"{latency * 1000:.2f} ms per request, 80/min and 500/h enforced, time x{scale:g}:")
                for i in range(args.pipeline_runs):
                    result = run({"task": "pipeline", "fresh": True, "findings": args.pipeline_findings,
                                  "scale": scale, "latency": latency, "deadline": args.pipeline_deadline},
                                 timeout=args.pipeline_deadline + 120)
                    result.update(name=name, scale=scale, latency=latency)
                    results.setdefault("pipelines", []).append(result)
                    say(f"  run {i + 1}/{args.pipeline_runs}: {result['seconds']:.1f} s wall, {result['issues']} "
                        f"issues, {result['limited_answers']} answers 403/429, {result['duplicates']} duplicates; "
                        f"minimum {result['minimum_with_latency']:.1f} s (limits only "
                        f"{result['minimum_limits_only']:.1f} s)")

        scale_benchmarks(args, run, results)
        if args.pages:
            pages.run_pages(args, env, run, workdir, results, say)
    except (BenchError, pages.PagesError, subprocess.TimeoutExpired) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    finally:
        cleanup_queue(redis_url, queue)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
            for database in (db, template_db):
                try:
                    recreate_database(database, drop_only=True)
                except Exception as exc:  # noqa: BLE001 - cleanup: say it, don't mask the real outcome
                    print(f"bench: could not drop {database['name']}: {exc}", file=sys.stderr)
        else:
            print(f"bench: kept {workdir} and databases {db['name']}, {template_db['name']}", file=sys.stderr)

    results["total_seconds"] = time.monotonic() - started
    rows = report.table_rows(results, args)
    table = report.markdown_table(rows) if rows else ""
    page_rows = report.page_rows(results.get("pages"))
    page_table = report.markdown_table(page_rows, report.PAGE_COLUMNS) if page_rows else ""
    print()
    print("\n\n".join(t for t in (table, page_table) if t))
    machine = report.machine(results["migrate"])
    machine["Load average"] = (f"{load_at_start} (1/5/15 min) at the start, {report.load_average()} at the end: "
                               "other work on the machine shows up as noise in the times")
    text = report.report_markdown(results, args, rows, table, machine, page_rows, page_table)
    Path(args.report).write_text(text)
    say(f"\nWrote {os.path.relpath(args.report, Path.cwd())} ({results['total_seconds']:.0f} s in all).")
    return 0


def cleanup_queue(redis_url: str, queue: str) -> None:
    """Delete what the benchmark left in Redis under its private queue name: the pipeline tasks the imports
    enqueued (no worker reads them), kombu's bindings, and the per-queue metrics counters."""
    if not redis_url:
        return
    try:
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=5)
        patterns = (queue, f"{queue}\x06\x16*", f"_kombu.binding*.{queue}", f"*:{queue}:*")
        keys = {key for pattern in patterns for key in client.scan_iter(match=pattern)}
        if keys:
            client.delete(*keys)
    except Exception as exc:  # noqa: BLE001 - cleanup only
        print(f"bench: could not remove the Redis keys of queue {queue}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
