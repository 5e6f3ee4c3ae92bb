"""The scan-completion pipeline: plan what each finding needs, then do it on the tracker exactly once.

Two steps, so that nothing is lost and nothing is done twice:

1. `plan_scan` (database only, one transaction): claim a TrackerIssue row for every open finding at or
   above the threshold that has none (unique per repository and fingerprint: a second claim is a no-op),
   and mark reopen / close / moved-code work on existing rows.
2. `sync_repository` (tracker calls), in one of the tracker host's few concurrency slots, for a bounded
   time: take each due row under a lease, call the tracker, record the result. A row whose create may
   have reached the tracker (timeout, dropped connection, killed worker) is looked up in the tracker by
   its fingerprint before any new create.
"""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from certifai import metrics
from findings.models import SEVERITY_RANK, Finding, Repository, Scan
from trackers import pacing
from trackers import services as tracker_services
from trackers.adapters import (
    ExternalIssue,
    IssueContent,
    TrackerAdapter,
    TrackerAuthError,
    TrackerConfigError,
    TrackerError,
    TrackerRateLimited,
    TrackerSettings,
    TrackerTransientError,
    get_adapter,
)
from trackers.crypto import SecretError
from trackers.models import ReopenPolicy, TrackerConfig

from .models import IssueEvent, TrackerIssue

logger = logging.getLogger(__name__)

Action = TrackerIssue.Action
Sync = TrackerIssue.Sync

MAX_ATTEMPTS = 6  # then the row is failed, visibly, and retried by the periodic task / sync_issues
FAILED_RETRY = timedelta(minutes=30)
LOOKUP_MARGIN = timedelta(minutes=2)  # clock skew between us and the tracker


def _lease() -> timedelta:
    """How long a worker holds a row: longer than any one tracker call (timeout + pacing). A row whose
    lease ran out (its worker was killed) is taken over, after a lookup in the tracker."""
    return timedelta(seconds=settings.CERTIFAI_ISSUE_LEASE_SECONDS)


def _unknown_outcome_delay() -> float:
    """After a write whose answer was lost, let the tracker's listings catch up before looking."""
    return settings.CERTIFAI_UNKNOWN_OUTCOME_DELAY
PLAN_BATCH = 2000


# --- step 1: plan ------------------------------------------------------------------------------


def plan_scan(scan: Scan) -> dict[str, int]:
    """Record what the completed `scan` asks of the tracker. Idempotent: a redelivered task plans nothing twice."""
    config = TrackerConfig.objects.filter(repository_id=scan.repository_id).first()
    if config is None:
        return {}
    with transaction.atomic():
        Repository.objects.select_for_update().filter(pk=scan.repository_id).first()
        moved = _plan_moved_code(scan, config)
        created = _plan_creates(config, scan)
        reopened = _plan_reopens(scan, config)
        closed = _plan_closes(scan, config) if config.auto_close else 0
    return {"planned_create": created, "planned_reopen": reopened, "planned_close": closed, "planned_move": moved}


def planned_title_sql(alias: str) -> str:
    """SQL for the title a finding's issue will be filed under (IssueContent.title, kept equal by a test), from the
    columns of the finding `alias`. A claimed row carries it until the tracker answers with its own, so the Issues
    search is one indexed condition on the issue's title, filed or not. Portable: PostgreSQL and SQLite."""
    f = alias
    text = (
        f"'[' || UPPER({f}.severity) || '] ' || CASE WHEN {f}.title <> '' AND {f}.title <> {f}.rule_id THEN {f}.title "
        f"WHEN {f}.rule_id <> '' THEN {f}.rule_id ELSE 'Finding' END || CASE WHEN {f}.file_path = '' THEN '' "
        f"WHEN {f}.start_line IS NOT NULL AND {f}.start_line <> 0 "
        f"THEN ' in ' || {f}.file_path || ':' || CAST({f}.start_line AS TEXT) ELSE ' in ' || {f}.file_path END"
    )
    return f"CASE WHEN LENGTH({text}) <= 250 THEN {text} ELSE SUBSTR({text}, 1, 249) || '…' END"


def _plan_creates(config: TrackerConfig, scan: Scan | None) -> int:
    """Claim a row for every open finding at or above the threshold that has no issue yet: one INSERT ... SELECT
    for all of them (100,000 findings need no model object), skipping a fingerprint that has a row already
    (another worker, a redelivered task; or code that moved away and came back, handed back by _relink)."""
    threshold = SEVERITY_RANK[config.min_severity]
    template = TrackerIssue(repository_id=config.repository_id, tracker_config=config, tracker=config.type,
                            sync_state=Sync.PENDING, pending_action=Action.CREATE, action_scan=scan)
    template.created_at = template.updated_at = timezone.now()
    columns, values, params = [], [], []
    for model_field in TrackerIssue._meta.concrete_fields:
        if model_field.primary_key:
            continue
        columns.append(connection.ops.quote_name(model_field.column))
        if model_field.name in ("fingerprint", "finding", "title"):
            values.append({"fingerprint": "f.fingerprint", "finding": "f.id", "title": planned_title_sql("f")}[
                model_field.name])
        else:
            values.append("%s")
            params.append(model_field.get_db_prep_save(getattr(template, model_field.attname), connection))
    issue_table, finding_table = TrackerIssue._meta.db_table, Finding._meta.db_table
    sql = (
        f"INSERT INTO {issue_table} ({', '.join(columns)}) SELECT {', '.join(values)} "  # noqa: S608  # nosec B608
        f"FROM {finding_table} f WHERE f.repository_id = %s AND f.status = %s AND f.severity_rank <= %s "
        f"AND NOT EXISTS (SELECT 1 FROM {issue_table} i WHERE i.finding_id = f.id) ORDER BY f.id "
        "ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, config.repository_id, Finding.Status.OPEN, threshold])
        claimed = cursor.rowcount
    unclaimed = (
        Finding.objects.filter(repository_id=config.repository_id, status=Finding.Status.OPEN,
                               severity_rank__lte=threshold, tracker_issue__isnull=True)
        .order_by("id").values_list("id", "fingerprint")
    )
    last_id = 0
    while batch := list(unclaimed.filter(id__gt=last_id)[:PLAN_BATCH]):
        last_id = batch[-1][0]
        _relink(config, dict(batch), scan)
    return claimed


def _relink(config: TrackerConfig, fingerprints_by_finding: dict[int, str], scan: Scan | None) -> int:
    """Rows of these fingerprints that track another finding (code that moved away and came back) or none:
    hand them back to the open finding of their own fingerprint. Returns how many were handed back."""
    finding_by_fingerprint = {fp: finding_id for finding_id, fp in fingerprints_by_finding.items()}
    stray = TrackerIssue.objects.filter(
        repository_id=config.repository_id, fingerprint__in=list(finding_by_fingerprint)
    ).exclude(finding_id__in=list(fingerprints_by_finding)).filter(
        Q(finding__isnull=True) | Q(finding__status=Finding.Status.RESOLVED)
    )
    rows = list(stray)
    for row in rows:
        row.finding_id = finding_by_fingerprint[row.fingerprint]
        if row.state == TrackerIssue.State.CLOSED and not row.pending_action:
            row.pending_action, row.sync_state, row.action_scan = Action.REOPEN, Sync.PENDING, scan
            row.attempts, row.claimed_at, row.next_attempt_at = 0, None, None
            row.pending_comment = "Certifai sees this finding again: reopening."
    _save_rows(rows)
    return len(rows)


def _save_rows(rows: list[TrackerIssue]) -> None:
    """Write the rows the planner changed in a few statements per batch, not one per row (a reformatted file moves
    thousands of findings at once): the finding and comment row by row (bulk_update's CASE, the costly part in
    Python, so only for what differs), the rest with one UPDATE per set of equal values."""
    now = timezone.now()
    same: dict[tuple, list[int]] = {}
    for row in rows:
        key = (row.pending_action, row.sync_state, row.action_scan_id, row.attempts, row.claimed_at,
               row.next_attempt_at)
        same.setdefault(key, []).append(row.pk)
    TrackerIssue.objects.bulk_update(rows, ["finding", "pending_comment"], batch_size=1000)
    for (action, sync, scan_id, attempts, claimed_at, next_attempt_at), ids in same.items():
        for start in range(0, len(ids), 1000):
            TrackerIssue.objects.filter(pk__in=ids[start:start + 1000]).update(
                pending_action=action, sync_state=sync, action_scan_id=scan_id, attempts=attempts,
                claimed_at=claimed_at, next_attempt_at=next_attempt_at, updated_at=now,
            )


def _plan_reopens(scan: Scan, config: TrackerConfig) -> int:
    issues = TrackerIssue.objects.filter(
        repository_id=scan.repository_id, finding__reappeared_scan=scan, state=TrackerIssue.State.CLOSED
    ).exclude(pending_action=Action.CREATE)
    if config.reopen_policy == ReopenPolicy.UNLESS_ACCEPTED:
        issues = issues.filter(accepted_risk=False)
    return issues.update(
        pending_action=Action.REOPEN, sync_state=Sync.PENDING, action_scan=scan, attempts=0, claimed_at=None,
        next_attempt_at=None, pending_comment=f"Certifai saw this finding again in scan {scan.pk}: reopening.",
    )


def _plan_closes(scan: Scan, config: TrackerConfig) -> int:
    return (
        TrackerIssue.objects.filter(repository_id=scan.repository_id, finding__resolved_scan=scan)
        .filter(Q(state=TrackerIssue.State.OPEN) | Q(pending_action=Action.REOPEN))
        .update(
            pending_action=Action.CLOSE, sync_state=Sync.PENDING, action_scan=scan, attempts=0, claimed_at=None,
            next_attempt_at=None,
            pending_comment=f"Certifai no longer finds this in scan {scan.pk}: closing as fixed.",
        )
    )


def _plan_moved_code(scan: Scan, config: TrackerConfig) -> int:
    """A finding resolved by this scan and a new one with the same rule and file whose code snippet or
    SARIF partialFingerprints match: the same vulnerability moved. The new finding takes over the issue.

    Only a filed issue moves. One not filed yet (or being filed right now) keeps its finding and the content it
    is being filed with, its marker its own fingerprint; the new finding gets an issue of its own, and the old
    one is closed once filed (_record_success)."""
    # Only what matching and the hand-over read: not the descriptions (15,000 moved findings, a few hundred MB).
    matched_fields = ("id", "fingerprint", "rule_id", "file_path", "start_line", "snippet", "partial_fingerprints")
    resolved = list(
        Finding.objects.filter(resolved_scan=scan, tracker_issue__isnull=False)
        .exclude(tracker_issue__external_id="")
        .exclude(snippet="", partial_fingerprints={})
        .select_related("tracker_issue").only(*matched_fields, "tracker_issue")
    )
    if not resolved:
        return 0
    # Findings this scan added or brought back, without an issue of their own.
    new = Finding.objects.filter(
        Q(first_scan=scan) | Q(reappeared_scan=scan), repository_id=scan.repository_id, tracker_issue__isnull=True,
        rule_id__in={f.rule_id for f in resolved}, file_path__in={f.file_path for f in resolved},
    ).order_by("id").only(*matched_fields)
    # Indexed by what can make them match, so that each resolved finding looks at a handful of candidates, not at
    # every new finding of its rule and file (a reformatted file resolves and adds thousands at once).
    by_print: dict[tuple, list[Finding]] = {}
    by_code: dict[tuple, list[Finding]] = {}
    order: dict[int, int] = {}
    for position, finding in enumerate(new):
        order[finding.pk] = position
        place = (finding.rule_id, finding.file_path)
        for name, value in finding.partial_fingerprints.items():
            by_print.setdefault((*place, name, value), []).append(finding)
        if code := _code_key(finding.snippet):
            by_code.setdefault((*place, code), []).append(finding)
    taken: set[int] = set()
    handed_over = []
    for old in resolved:
        place = (old.rule_id, old.file_path)
        candidates = {f.pk: f for key in [(*place, name, value) for name, value in old.partial_fingerprints.items()]
                      for f in by_print.get(key, ())}
        candidates.update((f.pk, f) for f in by_code.get((*place, _code_key(old.snippet)), ()))
        for pk in sorted(candidates.keys() - taken, key=order.__getitem__):
            if _same_code(old, candidates[pk]):
                taken.add(pk)
                handed_over.append(_hand_over(old.tracker_issue, candidates[pk], scan))
                break
    _save_rows(handed_over)
    return len(handed_over)


def _same_code(old: Finding, new: Finding) -> bool:
    shared = set(old.partial_fingerprints) & set(new.partial_fingerprints)
    if shared:
        return all(old.partial_fingerprints[k] == new.partial_fingerprints[k] for k in shared)
    old_code = _code_key(old.snippet)
    return bool(old_code) and old_code == _code_key(new.snippet)


_LINE_NUMBER = re.compile(r"^\s*\d+[ \t:|]?")


def _code_key(snippet: str) -> str:
    """The code of a snippet without what changes when it moves: line-number gutters (Bandit prints
    "55 app.run(...)"), indentation and blank context lines."""
    lines = [line for line in snippet.splitlines() if line.strip()]
    if lines and all(_LINE_NUMBER.match(line) for line in snippet.splitlines() if line.strip()):
        lines = [_LINE_NUMBER.sub("", line, count=1) for line in lines]
    return "\n".join(line.strip() for line in lines if line.strip())


def _hand_over(issue: TrackerIssue, finding: Finding, scan: Scan) -> TrackerIssue:
    issue.finding = finding
    if issue.pending_action != Action.CREATE:
        issue.pending_action = Action.MOVE
        issue.sync_state = Sync.PENDING
        issue.attempts, issue.claimed_at, issue.next_attempt_at = 0, None, None
        issue.pending_comment = (
            f"Certifai: this finding moved to {finding.location} in scan {scan.pk}. "
            f"New fingerprint: {finding.fingerprint} <!-- certifai:fingerprint={finding.fingerprint} -->"
        )
    issue.action_scan = scan
    return issue


# --- step 2: do the work on the tracker --------------------------------------------------------


@dataclass
class SyncResult:
    done: int = 0
    failed: int = 0
    retry_in: float | None = None  # seconds until more work is due, when some is left
    paused: bool = False
    busy: bool = False  # the tracker's concurrency slots were all taken: nothing was tried
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Failure:
    message: str
    tracker_down: bool = False  # a transient error: the tracker, not this row, is the problem
    retry_in: float | None = None


def sync_repository(repository_id: int, budget_seconds: float | None = None) -> SyncResult:
    """Do the due tracker work of one repository, for at most `budget_seconds` (CERTIFAI_SYNC_BUDGET_SECONDS), in
    one of its tracker host's few concurrency slots: when they are all taken, come back later (`retry_in`)."""
    result = SyncResult()
    config = TrackerConfig.objects.filter(repository_id=repository_id).select_related("repository").first()
    if config is None:
        return result
    if config.sync_paused:
        result.paused = True
        return result
    try:
        tracker = tracker_services.tracker_settings(config)
    except SecretError as exc:
        _pause(config, str(exc))
        result.paused = True
        return result
    if not _due(repository_id, timezone.now()).exists():
        result.retry_in = _seconds_until_due(repository_id)
        return result
    budget = settings.CERTIFAI_SYNC_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    with pacing.sync_slot(tracker, hold_seconds=budget + _lease().total_seconds()) as slot:
        if not slot:
            result.busy = True
            result.retry_in = SLOT_RETRY_SECONDS * random.uniform(1.0, 1.5)  # noqa: S311 - jitter
            return result
        _sync_rows(repository_id, config, tracker, time.monotonic() + budget, result)
    if result.retry_in is None and not result.paused:
        result.retry_in = _seconds_until_due(repository_id)
    return result


SLOT_RETRY_SECONDS = 5.0


def _sync_rows(
    repository_id: int, config: TrackerConfig, tracker: TrackerSettings, deadline: float, result: SyncResult
) -> None:
    adapter = get_adapter(tracker)
    scans: set[int] = set()
    while time.monotonic() < deadline:
        row = _lease_next(repository_id)
        if row is None:
            break
        if row.action_scan_id:
            scans.add(row.action_scan_id)
        wait = pacing.acquire(tracker, pacing.CREATE if row.pending_action in (Action.CREATE, Action.MOVE)
                              else pacing.WRITE)
        if wait > 0:
            _release(row, wait)
            result.retry_in = wait
            break
        outcome = _perform(adapter, config, row)
        if outcome == "done":
            result.done += 1
        elif outcome == "paused":
            result.paused = True
            break
        elif isinstance(outcome, float):  # rate limited: the whole account waits
            result.retry_in = outcome
            break
        else:
            result.failed += 1
            result.errors.append(outcome.message)
            if outcome.tracker_down:
                # Unreachable or erroring: don't spend a worker on the next rows' timeouts; come back after the
                # row's back-off, and say on every waiting row why it waits (its attempts don't count).
                _due(repository_id, timezone.now()).update(
                    last_error=f"Waiting for the tracker: {outcome.message}",
                    next_attempt_at=timezone.now() + timedelta(seconds=outcome.retry_in or 0),
                )
                result.retry_in = outcome.retry_in
                break
    for scan_id in scans:
        update_scan_counts(scan_id)


def _due(repository_id: int, now: datetime):
    return TrackerIssue.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        repository_id=repository_id, sync_state=Sync.PENDING,
    ).exclude(pending_action=Action.NONE)


def _lease_next(repository_id: int) -> TrackerIssue | None:
    """Take the next due row under a lease. The conditional UPDATE is the claim: two workers
    racing for the same row can't both win it."""
    for _ in range(20):
        now = timezone.now()
        candidate = _due(repository_id, now).order_by("id").values_list("id", flat=True).first()
        if candidate is None:
            return None
        won = _due(repository_id, now).filter(pk=candidate).update(
            lease_until=now + _lease(), attempts=F("attempts") + 1, claimed_at=Coalesce(F("claimed_at"), now)
        )
        if won:
            return TrackerIssue.objects.select_related("finding__repository", "repository").get(pk=candidate)
    return None


def _release(row: TrackerIssue, wait: float) -> None:
    """Give a leased row back untouched (pacing said not yet): the attempt doesn't count."""
    TrackerIssue.objects.filter(pk=row.pk).update(
        lease_until=None, attempts=F("attempts") - 1,
        next_attempt_at=timezone.now() + timedelta(seconds=wait),
    )


def _seconds_until_due(repository_id: int) -> float | None:
    row = (
        TrackerIssue.objects.filter(repository_id=repository_id, sync_state=Sync.PENDING)
        .exclude(pending_action=Action.NONE)
        .order_by(F("next_attempt_at").asc(nulls_first=True))
        .values_list("next_attempt_at", "lease_until")
        .first()
    )
    if row is None:
        return None
    now = timezone.now()
    times = [t for t in row if t is not None and t > now]
    return max((max(times) - now).total_seconds(), 1.0) if times else 1.0


def _perform(adapter: TrackerAdapter, config: TrackerConfig, row: TrackerIssue) -> str | float | Failure:
    action = row.pending_action
    try:
        with metrics.timed_tracker_call(config.type, action):  # latency histogram on /metrics
            issue = _call_tracker(adapter, row)
    except TrackerAuthError as exc:
        _pause(config, str(exc))
        _record_failure(row, str(exc), retry_in=None, give_up=True)
        return "paused"
    except TrackerRateLimited as exc:
        wait = max(exc.retry_after or 60.0, 1.0) * random.uniform(1.0, 1.2)  # noqa: S311 - jitter
        _release(row, wait)
        return wait
    except TrackerTransientError as exc:
        delay = _backoff(row.attempts)
        if exc.outcome_unknown:
            delay = max(delay, _unknown_outcome_delay())
        _record_failure(row, str(exc), retry_in=delay, give_up=row.attempts >= MAX_ATTEMPTS)
        return Failure(str(exc), tracker_down=True, retry_in=delay)
    except (TrackerConfigError, TrackerError) as exc:
        _record_failure(row, str(exc), retry_in=FAILED_RETRY.total_seconds(), give_up=True)
        return Failure(str(exc))
    _record_success(row, action, issue)
    return "done"


def _call_tracker(adapter: TrackerAdapter, row: TrackerIssue) -> ExternalIssue:
    action = row.pending_action
    if action == Action.CREATE:
        if row.attempts > 1 and row.claimed_at:
            # An earlier attempt may have filed it and lost the answer: look before creating.
            found = adapter.find_issue(row.fingerprint, created_after=row.claimed_at - LOOKUP_MARGIN)
            if found is not None:
                return found
        if row.finding is None:
            raise TrackerConfigError("the finding of this issue no longer exists")
        return adapter.create_issue(issue_content(row.finding))
    if action == Action.REOPEN:
        return adapter.reopen_issue(row.external_id, row.pending_comment)
    if action == Action.CLOSE:
        return adapter.close_issue(row.external_id, row.pending_comment)
    if action == Action.MOVE:
        adapter.comment(row.external_id, row.pending_comment)
        return adapter.get_issue(row.external_id)
    raise ValueError(f"unknown action {action!r}")


def _backoff(attempts: int) -> float:
    base = min(settings.CERTIFAI_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), 1800.0)
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security


def _record_success(row: TrackerIssue, action: str, issue: ExternalIssue) -> None:
    now = timezone.now()
    tracker_fields = {
        **_external_fields(row, issue, now), "lease_until": None, "attempts": 0, "claimed_at": None, "updated_at": now,
    }
    with transaction.atomic():
        done = TrackerIssue.objects.filter(pk=row.pk, pending_action=action).update(
            **tracker_fields, sync_state=Sync.SYNCED, pending_action=Action.NONE, pending_comment="", last_error="",
            next_attempt_at=None,
        )
        if not done:
            # A newer scan asked for something else meanwhile: keep that request, record what we learnt.
            TrackerIssue.objects.filter(pk=row.pk).update(**tracker_fields)
        elif action == Action.CREATE:
            _close_if_fixed_meanwhile(row)
        IssueEvent.objects.create(issue=row, scan_id=row.action_scan_id, action=action, ok=True,
                                  message=f"{row.get_tracker_display()} {issue.external_id}: {issue.status}")


def _close_if_fixed_meanwhile(row: TrackerIssue) -> None:
    """A finding resolved while its issue was still being filed (a later scan no longer found it, or its code
    moved): the planner had no filed issue to close then, so the close is queued now that there is one."""
    finding = Finding.objects.filter(pk=row.finding_id, status=Finding.Status.RESOLVED).only("resolved_scan").first()
    if finding is None or not row.tracker_config.auto_close:
        return
    TrackerIssue.objects.filter(pk=row.pk, pending_action=Action.NONE).update(
        pending_action=Action.CLOSE, sync_state=Sync.PENDING, action_scan_id=finding.resolved_scan_id, attempts=0,
        claimed_at=None, next_attempt_at=None,
        pending_comment=f"Certifai no longer finds this in scan {finding.resolved_scan_id}: closing as fixed.",
    )


def _external_fields(row: TrackerIssue, issue: ExternalIssue, now: datetime) -> dict:
    """The row's fields that mirror the tracker's issue."""
    return {
        "external_id": issue.external_id, "title": issue.title[:500], "url": issue.url, "status": issue.status[:100],
        "state": issue.state, "accepted_risk": issue.accepted_risk, "created": issue.created or row.created,
        "last_synced": now,
    }


def _record_failure(row: TrackerIssue, message: str, retry_in: float | None, give_up: bool) -> None:
    now = timezone.now()
    with transaction.atomic():
        row.last_error = message[:2000]
        row.lease_until = None
        row.sync_state = Sync.FAILED if give_up else Sync.PENDING
        row.next_attempt_at = now + timedelta(seconds=retry_in) if retry_in is not None else None
        row.save(update_fields=["last_error", "lease_until", "sync_state", "next_attempt_at", "updated_at"])
        IssueEvent.objects.create(issue=row, scan_id=row.action_scan_id, action=row.pending_action, ok=False,
                                  message=message[:2000])
    logger.warning("tracker %s for issue row %s failed (attempt %s): %s", row.pending_action, row.pk,
                   row.attempts, message)


def _pause(config: TrackerConfig, message: str) -> None:
    TrackerConfig.objects.filter(pk=config.pk).update(
        sync_paused=True, sync_error=f"Sync paused: {message} Fix the tracker settings and save them to resume."
    )
    logger.warning("tracker sync of repository %s paused: %s", config.repository_id, message)


def retry_failed(repository_id: int | None = None, force: bool = False) -> int:
    """Put failed rows back in the queue: those whose wait is over, or all of them when `force`."""
    rows = TrackerIssue.objects.filter(sync_state=Sync.FAILED, tracker_config__sync_paused=False)
    if repository_id:
        rows = rows.filter(repository_id=repository_id)
    if not force:
        rows = rows.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
    return rows.update(sync_state=Sync.PENDING, attempts=0, next_attempt_at=None)


def update_scan_counts(scan_id: int) -> None:
    """issues_created / _reopened / _closed / _failed of a scan, from the events and rows it caused."""
    done = dict(
        IssueEvent.objects.filter(scan_id=scan_id, ok=True).values_list("action").annotate(n=Count("id"))
    )
    failed = TrackerIssue.objects.filter(action_scan_id=scan_id, sync_state=Sync.FAILED).count()
    pending = TrackerIssue.objects.filter(action_scan_id=scan_id, sync_state=Sync.PENDING).count()
    with transaction.atomic():
        scan = Scan.objects.select_for_update().get(pk=scan_id)
        scan.counts = {
            **scan.counts,
            "issues_created": done.get(Action.CREATE, 0),
            "issues_reopened": done.get(Action.REOPEN, 0),
            "issues_closed": done.get(Action.CLOSE, 0),
            "issues_moved": done.get(Action.MOVE, 0),
            "issues_failed": failed,
            "issues_pending": pending,
        }
        scan.save(update_fields=["counts"])


# --- issue content -----------------------------------------------------------------------------


def finding_url(finding: Finding) -> str:
    return f"{settings.BASE_URL}/findings/{finding.pk}/"


def issue_content(finding: Finding) -> IssueContent:
    return IssueContent(
        fingerprint=finding.fingerprint,
        severity=finding.severity,
        rule_id=finding.rule_id,
        rule_title=finding.title if finding.title != finding.rule_id else "",
        description=finding.description,
        file_path=finding.file_path,
        start_line=finding.start_line,
        end_line=finding.end_line,
        tool=finding.tool,
        finding_url=finding_url(finding),
        source_url=finding.source_url,
        snippet=finding.snippet,
    )


# --- status back from the trackers -------------------------------------------------------------


def refresh_repository(repository_id: int) -> int:
    """Refresh the open linked issues of a repository from its tracker, in batches. Returns rows changed."""
    config = TrackerConfig.objects.filter(repository_id=repository_id, sync_paused=False).first()
    if config is None:
        return 0
    try:
        adapter = get_adapter(tracker_services.tracker_settings(config))
    except SecretError:
        return 0
    rows = {
        row.external_id: row
        for row in TrackerIssue.objects.filter(repository_id=repository_id, sync_state=Sync.SYNCED)
        .exclude(external_id="")
        .filter(tracker=config.type)
    }
    changed = 0
    ids = list(rows)
    for start in range(0, len(ids), 100):
        try:
            issues = adapter.list_issues(ids[start : start + 100])
        except TrackerAuthError as exc:
            _pause(config, str(exc))
            return changed
        except TrackerError as exc:
            logger.warning("refresh of repository %s stopped: %s", repository_id, exc)
            return changed
        changed += apply_external_states(rows, issues)
    return changed


def apply_external_states(rows: dict[str, TrackerIssue], issues: list[ExternalIssue]) -> int:
    now = timezone.now()
    changed = 0
    for issue in issues:
        row = rows.get(issue.external_id)
        if row is None:
            continue
        before = (row.state, row.status, row.accepted_risk, row.title)
        for name, value in _external_fields(row, issue, now).items():
            setattr(row, name, value)
        if (row.state, row.status, row.accepted_risk, row.title) != before:
            changed += 1
        row.save(update_fields=["title", "url", "status", "state", "accepted_risk", "created", "last_synced",
                                "updated_at"])
    return changed


# --- requests from people (web UI, API) ----------------------------------------------------------


def retry_issue(issue: TrackerIssue) -> None:
    """Queue a pending or failed row again, now."""
    TrackerIssue.objects.filter(pk=issue.pk).exclude(sync_state=Sync.SYNCED).update(
        sync_state=Sync.PENDING, attempts=0, next_attempt_at=None, lease_until=None
    )


def request_issue(finding: Finding) -> TrackerIssue:
    """File an issue for one finding now, whatever the threshold (the "Create issue" button).
    Returns the row (an existing one when the finding has an issue already)."""
    config = TrackerConfig.objects.filter(repository_id=finding.repository_id).first()
    if config is None:
        raise TrackerConfigError("this repository has no tracker configured")
    TrackerIssue.objects.bulk_create(
        [TrackerIssue(repository_id=finding.repository_id, tracker_config=config, tracker=config.type,
                      fingerprint=finding.fingerprint, finding=finding, title=issue_content(finding).title,
                      sync_state=Sync.PENDING, pending_action=Action.CREATE)],
        ignore_conflicts=True,
    )
    return TrackerIssue.objects.get(repository_id=finding.repository_id, fingerprint=finding.fingerprint)


def apply_webhook_issue(config: TrackerConfig, issue: ExternalIssue) -> bool:
    """Update the linked issue a tracker's webhook told us about. False when it isn't one of ours."""
    row = TrackerIssue.objects.filter(repository_id=config.repository_id, tracker=config.type,
                                      external_id=issue.external_id).first()
    if row is None:
        return False
    apply_external_states({row.external_id: row}, [issue])
    return True
