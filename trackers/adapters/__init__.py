from .base import (  # noqa: F401
    ConnectionResult,
    ExternalIssue,
    IssueContent,
    TrackerAdapter,
    TrackerAuthError,
    TrackerConfigError,
    TrackerError,
    TrackerNotFound,
    TrackerRateLimited,
    TrackerSettings,
    TrackerTransientError,
    WebhookSignatureError,
)
from .registry import DISPLAY_NAMES, adapter_class, get_adapter  # noqa: F401
