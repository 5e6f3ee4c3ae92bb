"""Signal receivers: they only hand work to Celery; the work itself is in services.py."""

from __future__ import annotations

from . import selectors, tasks


def enqueue_scan_pipeline(sender, scan, **kwargs) -> None:
    selectors.dashboard_changed()
    tasks.process_completed_scan.delay(scan.pk)
