"""Tables and bench/REPORT.md from the results bench/run.py collected."""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
from datetime import UTC, datetime

MB = 1024 * 1024
TIME_TARGET_S = 10.0  # a 100,000-result import
MEMORY_TARGET_MB = 300.0
FIXED_STATEMENTS = 12  # scan row, repository lock, resolve, scan update, ...
STATEMENTS_PER_BATCH = 5  # ORM writer: lookup, insert, update unchanged, update reappeared (+1); COPY writer: 1
PIPELINE_TARGET_S = 120.0
COLUMNS = ("benchmark", "size", "runs", "median time", "throughput", "peak RSS", "py heap peak", "SQL statements",
           "target", "result")


LABELS = {
    "new": "import, all new",
    "unchanged-stale": "re-import, unchanged, straight after",
    "unchanged": "re-import, unchanged",
    "changed": "import, 10% changed",
}
SCENARIOS = tuple(LABELS)


def short_counts(counts: dict) -> str:
    return ", ".join(f"{k} {counts.get(k, 0):,}" for k in ("new", "unchanged", "reappeared", "resolved"))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def _median(values):
    return statistics.median(values) if values else float("nan")


def _statement_limit(size: int, batch_size: int) -> int:
    return FIXED_STATEMENTS + STATEMENTS_PER_BATCH * math.ceil(size / batch_size)


def _import_row(results: dict, scenario: str, size: int, args) -> dict | None:
    runs = results.get(("import", scenario, size))
    if not runs:
        return None
    seconds = _median([r["seconds"] for r in runs])
    peak_kb = max(r["peak_rss_kb"] for r in runs)
    statements = int(_median([r["statements"] for r in runs]))
    limit = _statement_limit(size, runs[0]["batch_size"])
    failures = []
    targets = []
    if size >= 100_000:
        targets.append(f"< {TIME_TARGET_S:g} s")
        if seconds >= TIME_TARGET_S:
            failures.append(f"time {seconds:.1f} s")
    targets.append(f"< {MEMORY_TARGET_MB:g} MB")
    if peak_kb / 1024 >= MEMORY_TARGET_MB:
        failures.append(f"RSS {peak_kb / 1024:.0f} MB")
    targets.append(f"<= {limit} stmts")
    if statements > limit:
        failures.append(f"{statements} statements")
    heap = results.get(("heap", size)) if scenario == "new" else None
    label = LABELS[scenario]
    return {
        "benchmark": label,
        "size": f"{size:,}",
        "runs": str(len(runs)),
        "median time": f"{seconds:.2f} s",
        "throughput": f"{size / seconds:,.0f} findings/s",
        "peak RSS": f"{peak_kb / 1024:.0f} MB",
        "py heap peak": (f"{heap['heap_peak_bytes'] / MB:.0f} MB" if heap else "n/m") if scenario == "new" else "",
        "SQL statements": f"{statements:,} ({statements * 1000 / size:.1f}/1k)",
        "target": ", ".join(targets),
        "result": "PASS" if not failures else "**FAIL**: " + ", ".join(failures),
    }


def table_rows(results: dict, args) -> list[dict]:
    rows = []
    for scenario in SCENARIOS:
        for size in args.sizes:
            row = _import_row(results, scenario, size, args)
            if row:
                rows.append(row)
    naive = results.get(("naive", args.naive_size))
    if naive:
        seconds = _median([r["seconds"] for r in naive])
        service = results.get(("import", "new", args.naive_size)) or []
        service_s = _median([r["seconds"] for r in service])
        statements = int(_median([r["statements"] for r in naive]))
        rows.append({
            "benchmark": "per-finding ORM baseline, all new",
            "size": f"{args.naive_size:,}",
            "runs": str(len(naive)),
            "median time": f"{seconds:.2f} s",
            "throughput": f"{args.naive_size / seconds:,.0f} findings/s",
            "peak RSS": f"{max(r['peak_rss_kb'] for r in naive) / 1024:.0f} MB",
            "py heap peak": "",
            "SQL statements": f"{statements:,} ({statements * 1000 / args.naive_size:.0f}/1k)",
            "target": "(comparison)",
            "result": f"import_scan is {seconds / service_s:.1f}x faster" if service else "",
        })
    for runs in pipeline_groups(results):
        n = args.pipeline_findings
        pipe = median_run(runs)
        failures = []
        for run in runs:  # every run must meet the target, not only the median one
            if run["limited_answers"]:
                failures.append(f"{run['limited_answers']} answer{'s' if run['limited_answers'] != 1 else ''} "
                                "403/429")
            if run["duplicates"]:
                failures.append(f"{run['duplicates']} duplicates")
            if run["issues"] != n:
                failures.append(f"{run['issues']} issues")
            if run["synced_rows"] != n:
                failures.append(f"{run['synced_rows']} rows synced")
            if run["timed_out"] or run["paused"]:
                failures.append("gave up (deadline)" if run["timed_out"] else "sync paused")
        if pipe["seconds"] >= PIPELINE_TARGET_S:
            failures.append(f"time {pipe['seconds']:.0f} s")
        failures = list(dict.fromkeys(failures))
        rows.append({
            "benchmark": f"pipeline to fake GitHub (x{pipe['scale']:g}, {_ms(pipe['latency'])} per request)",
            "size": f"{n:,} issues",
            "runs": str(len(runs)),
            "median time": f"{pipe['seconds']:.1f} s (min {pipe['minimum_with_latency']:.1f} s)",
            "throughput": f"{pipe['issues'] / pipe['seconds']:.1f} issues/s",
            "peak RSS": f"{max(r['peak_rss_kb'] for r in runs) / 1024:.0f} MB",
            "py heap peak": "",
            "SQL statements": f"{pipe['statements']:,} ({pipe['statements'] / max(n, 1):.1f}/issue)",
            "target": f"0 x 403/429, 0 dups, {n:,} issues, < {PIPELINE_TARGET_S:g} s",
            "result": "PASS" if not failures else "**FAIL**: " + ", ".join(failures),
        })
    return rows


def pipeline_groups(results: dict) -> list[list[dict]]:
    """The pipeline runs grouped by variant, in the order they ran."""
    groups: dict[str, list[dict]] = {}
    for pipe in results.get("pipelines", []):
        groups.setdefault(pipe["name"], []).append(pipe)
    return list(groups.values())


def median_run(runs: list[dict], key: str = "seconds") -> dict:
    """The run whose time is the median (the upper middle one of an even count): its details stand for all."""
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2]


def markdown_table(rows: list[dict], columns=COLUMNS) -> str:
    cells = [list(columns)] + [[row.get(c, "") for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    right = {"size", "runs", "median time", "throughput", "peak RSS", "py heap peak", "SQL statements"}

    def line(values):
        out = []
        for i, value in enumerate(values):
            out.append(value.rjust(widths[i]) if columns[i] in right else value.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if c in right else ("-" * (w + 2))
                         for c, w in zip(columns, widths, strict=True)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


# --- machine ---------------------------------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def machine(migrate: dict) -> dict[str, str]:
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    settings = migrate.get("postgres_settings", {})
    return {
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": (model.group(1).strip() if model else platform.processor() or "unknown")
        + (f" ({float(mhz.group(1)):.0f} MHz)" if mhz else ""),
        "Cores": f"{os.cpu_count()} logical ({usable} usable by this process)",
        "Memory": f"{int(memory.group(1)) / 1024 / 1024:.1f} GiB" if memory else "unknown",
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "PostgreSQL": migrate.get("postgres", "unknown").split(" on ")[0]
        + " (" + ", ".join(f"{k}={v}" for k, v in settings.items()) + "); same machine, TCP to 127.0.0.1",
        "Load average": "",  # filled in by report_markdown: at the start and at the end of the run
    }


def load_average() -> str:
    parts = _read("/proc/loadavg").split()
    return " / ".join(parts[:3]) if parts else "unknown"


# --- REPORT.md ---------------------------------------------------------------------------------------------------


def _kinds_table(kinds: list[dict], total_seconds: float, limit: int = 12) -> str:
    lines = ["| statement (kind, table) | count | total | share of call | slowest |", "|---|---:|---:|---:|---:|"]
    for k in kinds[:limit]:
        lines.append(f"| `{k['kind']}` | {k['count']:,} | {k['seconds']:.2f} s | "
                     f"{100 * k['seconds'] / total_seconds:.0f}% | {k['slowest'] * 1000:.0f} ms |")
    return "\n".join(lines)


def report_markdown(results: dict, args, rows: list[dict], table: str, machine_info: dict,
                    page_rows: list[dict] | None = None, page_table: str = "") -> str:
    out: list[str] = []
    add = out.append
    add("# Certifai benchmark report\n")
    add(f"Generated by `make bench` (`bench/run.py`) on {machine_info['Date']}; the whole run took "
        f"{results['total_seconds']:.0f} s. What each benchmark measures and how: `bench/README.md`.\n")
    add("## Machine\n")
    for key, value in machine_info.items():
        add(f"- **{key}**: {value}")
    add("")
    if rows:
        _import_markdown(out, results, args, rows, table)
    _scale_markdown(out, results)
    if results.get("pages"):
        _pages_markdown(out, results["pages"], page_rows or [], page_table)
    return "\n".join(out) + "\n"


def _scale_markdown(out: list[str], results: dict) -> None:
    add = out.append
    if results.get("matching"):
        add("## Matching a scan against existing issues\n")
        add("`issues.services.plan_scan` (database only) for a repository whose N findings all have an open, synced "
            "issue: *claim* is the first scan (N issues claimed), *changed* a second scan in which one finding in "
            "ten was fixed and replaced and one in twenty moved (same code, another line), *reappeared* a third "
            "that brings the fixed ones back while their issues are closed (`bench/matching.py`).\n")
        add("| findings and issues | plan | runs (s) | median | SQL statements | SQL time | peak RSS | planned |")
        add("|---:|---|---|---:|---:|---:|---:|---|")
        sizes: dict[int, list[dict]] = {}
        for result in results["matching"]:
            sizes.setdefault(result["findings"], []).append(result)
        for size, runs in sizes.items():
            for name in ("claim", "changed", "reappeared"):
                r = median_run([run[name] for run in runs])
                times = ", ".join(f"{run[name]['seconds']:.2f}" for run in runs)
                planned = ", ".join(f"{k.removeprefix('planned_')} {v:,}" for k, v in r["planned"].items() if v)
                add(f"| {size:,} | {name} | {times} | {r['seconds']:.2f} s | {r['statements']} | "
                    f"{r['sql_seconds']:.2f} s | {max(run[name]['peak_rss_kb'] for run in runs) / 1024:.0f} MB | "
                    f"{planned} |")
        add("\nThe statements grow with batches (2,000 findings; 1,000 rows per bulk update), not with findings.\n")
    profile = results.get("sync_profile")
    if profile:
        add("## Where a sync's time goes\n")
        add(f"`sync_repository` filing {profile['synced']:,} issues on a fake GitHub that answers at once, its "
            f"limits out of the way, under cProfile: {profile['seconds']:.1f} s, **{profile['per_issue_ms']:.0f} ms "
            f"and {profile['statements'] / max(profile['synced'], 1):.1f} SQL statements per issue** "
            f"({profile['sql_seconds']:.1f} s in SQL). Per issue: the lease (a conditional UPDATE, then the row), "
            "the pacing slot (the account's RateBucket row locked and updated), the tracker call, and the result "
            "(the row and an IssueEvent). Against a real tracker the call's latency (100-500 ms) and the "
            "tracker's limits (GitHub: 80 creations a minute) dominate.\n")
        add("| statement (kind, table) | count | total |")
        add("|---|---:|---:|")
        for kind in profile["kinds"][:10]:
            add(f"| `{kind['kind']}` | {kind['count']} | {kind['seconds']:.2f} s |")
        add("\nTop functions by cumulative time:\n")
        add("```")
        add(profile["profile"]["cumulative"])
        add("```\n")
    trackers = results.get("trackers")
    if trackers and "trackers" in trackers:
        add("## Trackers in parallel\n")
        add(f"Real Celery workers ({trackers['concurrency']} pool processes, CERTIFAI_TRACKER_CONCURRENCY "
            f"{trackers['tracker_concurrency']}) file the issues of nine repositories on four fake trackers at "
            f"once; the fakes enforce the documented limits on a clock {trackers['scale']:g} times faster, our "
            "pacing is compressed alike, and Gitea is slow: each answer takes "
            f"{trackers['trackers']['gitea']['latency']:g} s (`bench/trackers.py`).\n")
        add("| tracker | repositories | issues filed | done after | requests | answers 403/429 | 5xx | "
            "most requests at once |")
        add("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, row in trackers["trackers"].items():
            done = f"{row['seconds']:.1f} s" if row["seconds"] is not None else "**not finished**"
            add(f"| {name}{' (slow)' if row['latency'] else ''} | {row['repositories']} | {row['synced']}/"
                f"{row['issues']} | {done} | {row['requests']} | {row['limited_answers']} | {row['errors']} | "
                f"{row['max_in_flight']} |")
        add(f"\nAll done in {trackers['wall_seconds']:.1f} s. The trackers proceed in parallel, each within its "
            "limits (no 403/429 answer); the slow one never has more requests in flight than its concurrency "
            "slots, and the others finish without waiting for it.\n")
    elif trackers:
        add(f"## Trackers in parallel\n\nNot run: {trackers['error']}\n")


def _import_markdown(out: list[str], results: dict, args, rows: list[dict], table: str) -> None:
    add = out.append
    add("## Results\n")
    add(table)
    add("")
    failed = [row for row in rows if row["result"].startswith("**FAIL")]
    if failed:
        add("**Targets missed**: " + "; ".join(
            f"{row['benchmark']} at {row['size']} ({row['result'].removeprefix('**FAIL**: ')})" for row in failed)
            + ".\n")
    else:
        add("**Every target met.**\n")
    add("- *median time*: wall time of the `import_scan` call (parse + database, one transaction, commit and the "
        "`scan_completed` signal included) in a child process of its own; Django start-up excluded. Each run "
        "starts from a fresh clone of the migrated template database (empty and never analyzed, as on a new "
        "install) and a CHECKPOINT; the re-imports follow the fresh import of the same run, into the same "
        "repository, after an ANALYZE (which autovacuum makes within about a minute of a big import), except the "
        "row *straight after*: right after the fresh import, with autovacuum held off the findings tables until "
        "then, so only the ANALYZE that a big first import makes itself (findings/bulk.py) informs the planner.")
    add("- *throughput*: SARIF results imported per second. *peak RSS*: the child's VmHWM during the call (reset "
        "just before it), i.e. including the interpreter and Django (*base RSS* below); the largest of the runs. "
        "*py heap peak*: `tracemalloc` peak of an extra, untimed run (n/m: not measured; at 100,000 only with "
        "`--heap-100k`, as it takes about two minutes). *SQL statements*: every statement through "
        "`connection.execute_wrapper` during the call (median of the runs), and per 1,000 findings.")
    add(f"- Targets: a {TIME_TARGET_S:g} s limit applies at 100,000 results; peak RSS < {MEMORY_TARGET_MB:g} MB "
        f"everywhere; statements at most {FIXED_STATEMENTS} + {STATEMENTS_PER_BATCH} per batch of "
        f"`BATCH_SIZE` findings (i.e. per batch, never per finding).")
    add(f"- Runs: {args.runs} per size below 100,000 (median reported), {args.runs_100k} at 100,000 and more"
        + (" (median reported)" if args.runs_100k > 1 else " (a single run: its time)") + ".\n")

    # growth curve
    add("## Import growth curve\n")
    add("| scenario | size | file | runs (s) | median | findings/s | base RSS | peak RSS | heap peak | statements "
        "| per batch | SQL time | counts |")
    add("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for scenario in SCENARIOS:
        for size in args.sizes:
            runs = results.get(("import", scenario, size))
            if not runs:
                continue
            name = f"scan-{size}{'-changed' if scenario == 'changed' else ''}.sarif"
            file_mb = results["files"][name]["bytes"] / MB
            median = _median([r["seconds"] for r in runs])
            heap = results.get(("heap", size)) if scenario == "new" else None
            batches = math.ceil(size / runs[0]["batch_size"])
            statements = _median([r["statements"] for r in runs])
            sql = _median([r["sql_seconds"] for r in runs])
            cells = [
                scenario, f"{size:,}", f"{file_mb:.0f} MiB ({results['files'][name]['bytes'] / 1e6:.0f} MB)",
                ", ".join(f"{r['seconds']:.2f}" for r in runs),
                f"{median:.2f} s", f"{size / median:,.0f}",
                f"{_median([r['base_rss_kb'] for r in runs]) / 1024:.0f} MB",
                f"{max(r['peak_rss_kb'] for r in runs) / 1024:.0f} MB",
                f"{heap['heap_peak_bytes'] / MB:.0f} MB" if heap else "",
                f"{statements:,.0f}", f"{statements / batches:.1f}",
                f"{sql:.2f} s ({100 * sql / median:.0f}%)", short_counts(runs[-1]["counts"]),
            ]
            add("| " + " | ".join(cells) + " |")
    add("")
    files = results.get("files", {})
    if files:
        biggest = max(files.values(), key=lambda f: f["bytes"])
        add(f"Files: synthetic CodeQL-style SARIF 2.1.0 (`bench/sarif_gen.py`): {biggest['rules']} rules with "
            f"security-severity, {biggest['files']} files, message + region + snippet + context snippet + related "
            f"location + partialFingerprints per result, {biggest['bytes'] / biggest['results']:,.0f} bytes per "
            f"result; generated in {results['generate_seconds']:.1f} s.\n")

    # where the time goes
    biggest_size = args.sizes[-1]
    add(f"## Where the time goes ({biggest_size:,} results)\n")
    add("Statement times are measured around each `cursor.execute` (`connection.execute_wrapper`); `COMMIT` is "
        "timed too, because the findings' foreign keys are `DEFERRABLE INITIALLY DEFERRED`, so every foreign-key "
        "check of the transaction runs at commit. *Python* is the rest of the call: parsing, fingerprints, model "
        "objects and SQL compilation in the ORM.\n")
    parse = results.get(("parse", biggest_size))
    if parse:
        add(f"The parser alone (both passes, {parse['findings']:,} findings built, no database) takes "
            f"**{parse['parse_seconds']:.2f} s** ({parse['structure_pass']:.2f} s of it the structure pass), and "
            f"the fingerprints {parse['fingerprint_seconds']:.2f} s.\n")
    for scenario in SCENARIOS:
        runs = results.get(("import", scenario, biggest_size))
        if not runs:
            continue
        run = min(runs, key=lambda r: abs(r["seconds"] - _median([x["seconds"] for x in runs])))
        thread_sql = run.get("thread_sql_seconds", 0.0)
        caller_sql = run["sql_seconds"] - thread_sql
        python = run["seconds"] - caller_sql
        add(f"### {LABELS[scenario]}: {run['seconds']:.2f} s\n")
        share = 100 * caller_sql / run["seconds"]
        line = (f"{caller_sql:.2f} s waiting for PostgreSQL's statements in the caller's thread ({share:.0f}%)"
                f", {python:.2f} s in the import's own loop")
        if parse:
            line += (f" (of which about {parse['seconds']:.1f} s parsing and fingerprints, so about "
                     f"{max(python - parse['seconds'], 0):.1f} s writing the COPY text and waiting for the writer "
                     "thread: the database's share that parsing did not hide)")
        if thread_sql:
            line += (f". The writer thread's statements (per batch: the UPDATE ... RETURNING of the known "
                     f"fingerprints; its COPYs are not timed) took {thread_sql:.2f} s, while the caller parsed")
        planner = run.get("planner_before")
        if planner:
            estimate = "never analyzed" if planner["estimate"] < 0 else f"{planner['estimate']:,} rows"
            line += (f". Before the call the planner's statistics said `findings_finding` holds {estimate}; "
                     f"it held {planner['actual']:,}")
        add(line + ".\n")
        if planner and planner.get("lookup_plan"):
            add("Plan of the per-batch statement (`UPDATE ... WHERE repository_id = ? AND fingerprint = ANY(<2,000>) "
                "RETURNING ...`) at that moment: `"
                + " / ".join(part.strip() for part in planner["lookup_plan"]) + "`\n")
        add(_kinds_table(run["kinds"], run["seconds"]))
        add("")
    profile = results.get(("profile", biggest_size))
    if profile:
        add(f"### cProfile of a fresh {biggest_size:,} import\n")
        add(f"Under the profiler the call took {profile['seconds']:.1f} s (profiling slows pure-Python code "
            "most, so the parser's share is inflated). Top 15 by cumulative time:\n")
        add("```")
        add(profile["profile"]["cumulative"])
        add("```\n")
        add("Top 15 by own time (tottime):\n")
        add("```")
        add(profile["profile"]["tottime"])
        add("```\n")

    naive = results.get(("naive", args.naive_size))
    if naive:
        service = results.get(("import", "new", args.naive_size)) or []
        add(f"## Per-finding ORM baseline ({args.naive_size:,} new findings)\n")
        add("The same file imported the obvious way, in one transaction: for each parsed finding "
            "`Finding.objects.filter(repository=..., fingerprint=...).first()`, then `create()` (or `save()`), and "
            "`FindingChange.objects.create()` for a finding reopened or resolved.\n")
        n_s = _median([r["seconds"] for r in naive])
        s_s = _median([r["seconds"] for r in service]) if service else float("nan")
        naive_runs = ", ".join(f"{r['seconds']:.2f}" for r in naive)
        add(f"- baseline: {naive_runs} s "
            f"({_median([r['statements'] for r in naive]):,.0f} statements, "
            f"{_median([r['sql_seconds'] for r in naive]):.2f} s in SQL)")
        if service:
            add(f"- `import_scan`: {s_s:.2f} s (median) ({_median([r['statements'] for r in service]):,.0f} "
                f"statements) -> **{n_s / s_s:.1f}x faster**\n")
        add(_kinds_table(naive[0]["kinds"], naive[0]["seconds"], limit=6))
        add("")

    pipes = results.get("pipelines", [])
    if pipes:
        n = args.pipeline_findings
        add("## Pipeline\n")
        add(f"`record_scan` of {n:,} new findings (severities critical/high/medium, tracker threshold low), then "
            "`issues.services.plan_scan` and `sync_repository` called in this process until every row is synced, "
            "sleeping the `retry_in` each call returns. The tracker is `FakeGitHub` with a `Fault(\"delay\")` on "
            "every request and GitHub's documented secondary limits enforced (`creation_limit_per_minute=80`, "
            "`creation_limit_per_hour=500`, counted as GitHub counts: in sliding windows). Time is compressed S "
            "times on both sides: `settings.CERTIFAI_RATE_SCALE = S` and the fake's `clock` runs S times faster; "
            "the fake's rate-limit answers (retry-after, x-ratelimit-reset) are translated back to wall-clock "
            "seconds. The theoretical minimum: the n-th creation no earlier than 1 s after the previous one, 60 s "
            "after the (n-80)-th and 3,600 s after the (n-500)-th, divided by S; with the latency, requests one "
            "at a time.\n")
        for runs in pipeline_groups(results):
            pipe = median_run(runs)
            add(f"### {pipe['name']}: S = {pipe['scale']:g}, {_ms(pipe['latency'])} per request "
                f"({pipe['latency'] * pipe['scale']:.1f} s of tracker time)\n")
            if len(runs) > 1:
                times = ", ".join(f"{r['seconds']:.1f}" for r in runs)
                add(f"- {len(runs)} runs: {times} s; the details below are the median run's")
            add(f"- wall time: **{pipe['seconds']:.1f} s** (record_scan {pipe['record_seconds']:.2f} s, plan_scan "
                f"{pipe['plan_seconds']:.2f} s, {pipe['sync_calls']} sync_repository calls, "
                f"{pipe['slept_seconds']:.1f} s slept between them on `retry_in`)")
            compressed = pipe["minimum_limits_only"] * pipe["scale"]
            add(f"- theoretical minimum under the compressed limits: {compressed:,.0f} s / {pipe['scale']:g} = "
                f"**{pipe['minimum_limits_only']:.1f} s** -> ratio {pipe['seconds'] / pipe['minimum_limits_only']:.2f}"
                f"; with {_ms(pipe['latency'])} per request, one at a time: **{pipe['minimum_with_latency']:.1f} s** "
                f"-> ratio {pipe['seconds'] / pipe['minimum_with_latency']:.2f}")
            add(f"- issues in the fake: {pipe['issues']:,} (distinct fingerprint markers {pipe['distinct_markers']:,}"
                f", duplicates {pipe['duplicates']}); rows synced {pipe['synced_rows']:,}/{n:,}; "
                f"failed attempts {pipe['failed']}")
            add(f"- answers by status: {', '.join(f'{k}: {v}' for k, v in sorted(pipe['statuses'].items()))}; "
                f"**403/429: {pipe['limited_answers']}**")
            routes = sorted(pipe["by_route"].items(), key=lambda kv: -kv[1])
            add(f"- requests ({pipe['requests']:,}): " + ", ".join(f"`{k}` {v}" for k, v in routes))
            add(f"- SQL: {pipe['statements']:,} statements ({pipe['statements'] / max(n, 1):.1f} per issue), "
                f"{pipe['sql_seconds']:.1f} s")
            if pipe["limited_detail"]:
                add("- rate-limit answers (wall seconds since start: status, retry-after in fake seconds, creations "
                    "the fake had accepted before): "
                    + "; ".join(f"{d['at_wall_s']} s: {d['status']}, retry-after {d['retry_after_fake_s']}, after "
                                f"{d['created_so_far']}" for d in pipe["limited_detail"][:5]))
            if pipe["errors"]:
                add("- errors recorded: " + "; ".join(f"{count} x {text}" for text, count in pipe["errors"]))
            add("")
            add(_kinds_table(pipe["kinds"], pipe["seconds"], limit=8))
            add("")


# --- pages under load ----------------------------------------------------------------------------------------------

MEDIAN_TARGET_MS = 200.0
P95_TARGET_MS = 500.0
PAGE_COLUMNS = ("page", "median", "p95", "p99", "requests/s", "non-2xx", "queries (full / small)", "target",
                "result")


def page_rows(pages: dict | None) -> list[dict]:
    """One row per page of bench/pages.py: latency under wrk, query counts at the big and the small dataset."""
    if not pages:
        return []
    from bench.pages import PAGES

    rows = []
    counts = pages.get("queries") or {}
    for page in PAGES:
        row = pages["rows"].get(page["key"])
        q = counts.get(page["key"])
        failures = []
        if q:
            big, small = q["big"]["queries"], q["small"]["queries"]
            queries = f"{big} / {small}" + ("" if big == small else " (grows)")
            if big != small:
                failures.append("query count not flat")
            for who in ("big", "small"):
                if q[who]["status"] != 200:
                    failures.append(f"HTTP {q[who]['status']} under the test client ({who})")
        else:
            queries = "n/m"
        path = (row or {}).get("path") or page["path"]
        cells = {"page": f"{page['label']} (`{path}`)", "queries (full / small)": queries,
                 "target": f"median < {MEDIAN_TARGET_MS:g} ms, p95 < {P95_TARGET_MS:g} ms, flat queries, all 2xx"}
        if pages.get("wrk") is None:
            cells.update({k: "not run" for k in ("median", "p95", "p99", "requests/s", "non-2xx")})
            failures.insert(0, "not run (no wrk: apt-get install wrk)")
        elif row is None:
            cells.update({k: "not run" for k in ("median", "p95", "p99", "requests/s", "non-2xx")})
            failures.insert(0, "not run (--pages-filter)")
        elif "error" in row:
            cells.update({k: "—" for k in ("median", "p95", "p99", "requests/s")})
            cells["non-2xx"] = row["error"]
            failures.insert(0, row["error"])
        else:
            spread = row.get("p50_spread_ms")
            median = f"{row['p50_ms']:.1f} ms" + (f" ({spread[0]:.0f}–{spread[1]:.0f})" if spread and
                                                   len(row.get("rounds", [])) > 1 else "")
            cells.update({"median": median, "p95": f"{row['p95_ms']:.1f} ms",
                          "p99": f"{row['p99_ms']:.1f} ms", "requests/s": f"{row['rps']:.1f}",
                          "non-2xx": f"{row['non_2xx'] + row['socket_errors']}"})
            if not row["requests"]:
                failures.append("no answer within the run")
            if row["p50_ms"] >= MEDIAN_TARGET_MS:
                failures.append(f"median {row['p50_ms']:.0f} ms")
            if row["p95_ms"] >= P95_TARGET_MS:
                failures.append(f"p95 {row['p95_ms']:.0f} ms")
            if row["non_2xx"] or row["socket_errors"]:
                failures.append(f"{row['non_2xx']} non-2xx (last {row['last_bad_status']}), "
                                f"{row['socket_errors']} socket errors")
        if failures and failures[0].startswith("not run"):
            cells["result"] = failures[0]
        else:
            cells["result"] = "PASS" if not failures else "**FAIL**: " + ", ".join(failures)
        rows.append(cells)
    return rows


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{v:,} `{k}`" for k, v in counts.items())


def _pages_markdown(out: list[str], pages: dict, rows: list[dict], table: str) -> None:
    add = out.append
    seed = pages["seed"]
    big, small = seed["big"], seed["small"]
    opts = pages["options"]
    add("## Pages and list APIs under load\n")
    add(f"Dataset (`bench/pages.py`, set-based SQL): team *Bench* with {big['repositories']} repositories (a tracker "
        f"each: GitHub, GitLab, Gitea, Jira in turn, two of them paused), "
        + _counts_text(big["counts"])
        + f"; seeded in {seed['seed_seconds']:.1f} s, then `VACUUM ANALYZE` ({seed['vacuum_seconds']:.1f} s); "
        f"database {seed['database_size']}. A second team *Bench small* ({small['repositories']} repositories, "
        + _counts_text(small["counts"])
        + ") gives the query counts to compare with. The user measured is admin of *Bench* (not a superuser: "
        "every list goes through the team scope).\n")
    if pages.get("wrk"):
        add(f"Server: `gunicorn {pages.get('gunicorn', '')}` (DEBUG off, as the Dockerfile runs it), on the same "
            f"machine as PostgreSQL and the load tool. Load: `{pages['wrk']}`, `-t{opts['threads']} "
            f"-c{opts['connections']} -d{opts['seconds']:g}s` per page and round, {opts.get('rounds', 1)} "
            "round(s) over all the pages one after the other, after "
            f"{opts['warmup']:g} s of unmeasured warm-up per page; each figure is the median of the rounds' (the "
            "median column adds the lowest and highest round median in brackets); a Lua script setting the "
            "session cookie (pages) or `Authorization: Token` (API) and counting "
            "every non-2xx answer. Latencies are wrk's (loopback, so server time plus well under a millisecond); "
            f"with {opts['connections']} requests in flight on 2 cores a request also waits for the others' CPU.\n")
    else:
        add("**wrk is not installed** (`apt-get install wrk`): the load rows were not run; the query counts were.\n")
    add(table)
    add("")
    failed = [row for row in rows if row["result"].startswith("**FAIL")]
    if failed:
        add("**Targets missed**: " + "; ".join(f"{row['page']} ({row['result'].removeprefix('**FAIL**: ')})"
                                               for row in failed) + ".\n")
    elif pages.get("wrk"):
        add("**Every page target met.**\n")
    add("- *queries*: SQL queries of one request with Django's test client (`CaptureQueriesContext`, after a "
        "warm-up request) for the *Bench* user at the full dataset, then for the *Bench small* user at the small "
        "one: equal counts mean the page's query count does not grow with the data (no N+1).")
    counts = pages.get("queries") or {}
    slow = [(key, q["slowest"][0]) for key, q in counts.items() if q.get("slowest")]
    if slow:
        add("\nSlowest query of each page (single request, test client, full dataset):\n")
        add("| page | ms | query |")
        add("|---|---:|---|")
        for key, q in slow:
            sql = q["sql"].replace("|", "\\|").replace("\n", " ")
            add(f"| {key} | {q['ms']:.1f} | `{sql[:220]}{'…' if len(q['sql']) > 220 else ''}` |")
        add("")
