"""Signals findings/ sends and other apps subscribe to (findings/ imports neither issues/ nor trackers/)."""

import django.dispatch

# Sent after the transaction that completed a scan has committed; keyword argument: scan.
scan_completed = django.dispatch.Signal()
