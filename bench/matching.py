"""Matching benchmark: plan a scan of N findings against N existing tracker issues (bench/README.md, section 5).

A repository whose N findings all have a synced, open issue gets a second scan in which one finding in ten was
fixed and replaced by a new one, and one in twenty moved (same rule, file and code, another line); then a third
scan brings the fixed ones back while their issues are closed. `plan_scan` of the second scan claims the new
findings, hands the moved ones' issues over and closes the fixed ones' issues; the third reopens them. Each plan
is timed and its SQL statements counted: they must grow with batches, not findings.
"""

from __future__ import annotations

import time
from typing import Any


def _findings(n: int, changed_every: int = 10, moved_every: int = 20, variant: int = 0) -> list:
    from findings.importers.base import ParsedFinding

    out = []
    for i in range(n):
        line = i + 1
        rule = f"py/rule-{i % 40:02d}"
        if variant == 1 and i % changed_every == 0:
            rule = "py/new-rule"  # fixed, and a new finding elsewhere
        elif variant == 1 and i % moved_every == 5:
            line = i + 1 + 1_000_000  # the same code, moved
        out.append(ParsedFinding(
            tool="CodeQL", rule_id=rule, rule_title=rule, severity=("critical", "high", "medium")[i % 3],
            message=f"User input reaches a dangerous sink ({i}).", file_path=f"src/module_{i % 50:02d}.py",
            start_line=line, end_line=line, snippet=f"cursor.execute('SELECT ' + request.args['q{i}'])\n",
            partial_fingerprints={"primaryLocationLineHash": f"{i:016x}:1"},
        ))
    return out


def matching(spec: dict) -> dict[str, Any]:
    from django.db import connection
    from django.db.models import CharField
    from django.db.models.functions import Cast

    from bench.tasks import SqlCounter, _status_kb, fresh_database, reset_peak_rss
    from findings.models import Repository
    from findings.services import record_scan
    from issues.models import TrackerIssue
    from issues.services import plan_scan
    from trackers import services as tracker_services

    n = int(spec["findings"])
    fresh_database()
    repository = Repository.objects.create(name="acme/big", url="https://github.com/acme/big")
    tracker_services.save_tracker(repository, {
        "type": "github", "repository": "acme/big", "token": "ghp_MatchingBench0123456789abcdefABCDEF",
        "min_severity": "low", "auto_close": True,
    })
    original = _findings(n)
    first = record_scan(repository=repository, findings=original, tools=["CodeQL"])
    results: dict[str, Any] = {"findings": n}

    def timed_plan(name: str, scan) -> None:
        counter = SqlCounter()
        reset_peak_rss()
        start = time.perf_counter()
        with connection.execute_wrapper(counter):
            planned = plan_scan(scan)
        results[name] = {"seconds": time.perf_counter() - start, "planned": planned,
                         "peak_rss_kb": _status_kb("VmHWM"), **counter.as_dict()}

    timed_plan("claim", first)  # every finding new: N rows claimed
    issues = TrackerIssue.objects.filter(repository=repository)
    issues.update(sync_state="synced", pending_action="", state="open", status="open",
                  external_id=Cast("id", CharField()))
    second = record_scan(repository=repository, findings=_findings(n, variant=1), tools=["CodeQL"])
    timed_plan("changed", second)
    # The tracker did the work: created, moved and closed.
    issues.filter(pending_action="close").update(sync_state="synced", pending_action="", state="closed",
                                                 status="closed")
    issues.exclude(pending_action="").update(sync_state="synced", pending_action="", state="open",
                                             external_id=Cast("id", CharField()))
    third = record_scan(repository=repository, findings=original, tools=["CodeQL"])
    timed_plan("reappeared", third)
    results["issues"] = issues.count()
    return results
