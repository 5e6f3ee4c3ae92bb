"""Certifai settings: everything comes from the environment (see README, "Configuration"), with
embedded defaults so `make run` works on a fresh machine: SQLite and a file-system Celery broker."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Generated development secrets and the embedded broker live here (git-ignored).
LOCAL_DIR = Path(os.environ.get("CERTIFAI_LOCAL_DIR", BASE_DIR / ".certifai"))


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _generated_secret(name: str, make) -> str:
    """A development secret generated once and kept in LOCAL_DIR, so restarts keep sessions and tokens."""
    path = LOCAL_DIR / name
    if not path.exists():
        LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
    return path.read_text().strip()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


DEBUG = os.environ.get("CERTIFAI_DEBUG", "") == "1"
SECRET_KEY = os.environ.get("CERTIFAI_SECRET_KEY") or _generated_secret("secret_key", lambda: secrets.token_urlsafe(50))
# Newest first; tokens at rest are encrypted with the first and readable with any (key rotation).
ENCRYPTION_KEYS = _env_list("CERTIFAI_ENCRYPTION_KEY") or [_generated_secret("encryption_key", _fernet_key)]
ALLOWED_HOSTS = _env_list("CERTIFAI_ALLOWED_HOSTS", "localhost,127.0.0.1")
BASE_URL = os.environ.get("CERTIFAI_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
TRACKER_ALLOWED_HOSTS = _env_list("CERTIFAI_TRACKER_ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_filters",
    "django_tables2",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "certifai",
    "teams",
    "findings",
    "trackers",
    "issues",
]

MIDDLEWARE = [
    "certifai.middleware.RequestIdMiddleware",  # first: every response and log line gets the request's id
    "certifai.middleware.ProbeMiddleware",  # /healthz, /readyz, /metrics: before host checks and HTTPS redirect
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out login attempt into the login page with the lockout message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "certifai.urls"
WSGI_APPLICATION = "certifai.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CERTIFAI_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share the file: wait for locks instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable database fails a connection (and /readyz) after this many seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", int(os.environ.get("CERTIFAI_DB_CONNECT_TIMEOUT", "5")))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app and static/ folders, so no collectstatic is needed on one machine.
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# --- web security (see SECURITY.md) ---------------------------------------------------------------
# The TLS-only settings follow CERTIFAI_BASE_URL: `make run` serves plain http://127.0.0.1:8000, where
# secure-only cookies, the HTTPS redirect and HSTS would lock the browser out; an https:// base URL turns them on.
HTTPS = BASE_URL.startswith("https://")
# Behind one TLS-terminating reverse proxy that sets X-Forwarded-Proto and appends the client's address to
# X-Forwarded-For. Never set it without such a proxy: clients could then claim HTTPS and any address.
BEHIND_PROXY = os.environ.get("CERTIFAI_BEHIND_PROXY", "") == "1"
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # probes of a load balancer or orchestrator speak plain HTTP
SECURE_HSTS_SECONDS = int(os.environ.get("CERTIFAI_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # pages hand the token to htmx themselves (base.html), no script reads the cookie
SESSION_COOKIE_SAMESITE = "Lax"  # Lax, not Strict: a link from a tracker issue to its finding keeps the session
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = ["/".join(BASE_URL.split("/", 3)[:3])] if "://" in BASE_URL else []
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# django-csp: the pages have no inline script, style or event handler (tests/ui enforce the same policy).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
# django-axes: 5 failed log-ins for one username from one address lock that pair out for 15 minutes.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("CERTIFAI_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("CERTIFAI_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lockout ends 15 minutes after it began
AXES_LOCKOUT_CALLABLE = "certifai.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "certifai.security.client_ip"
AXES_VERBOSE = False  # no start-up banner on every command; lockouts are still logged

# Uploaded scan files go to disk, not memory (they can be hundreds of MB).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
CERTIFAI_MAX_UPLOAD_SIZE = int(os.environ.get("CERTIFAI_MAX_UPLOAD_SIZE", str(512 * 1024 * 1024)))
# A gzip-compressed scan is decompressed to a temporary file; past this many bytes it is rejected (gzip bombs).
CERTIFAI_MAX_DECOMPRESSED_SIZE = int(os.environ.get("CERTIFAI_MAX_DECOMPRESSED_SIZE", str(2 * 1024 * 1024 * 1024)))
# The first handler stops writing an upload to disk as soon as it passes CERTIFAI_MAX_UPLOAD_SIZE.
FILE_UPLOAD_HANDLERS = [
    "findings.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

REDIS_URL = os.environ.get("REDIS_URL", "")

# --- Celery ---------------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A task whose worker vanished (SIGKILL of the whole worker) is delivered again after this long.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CERTIFAI_VISIBILITY_TIMEOUT", "3600"))}
else:
    # Embedded broker: messages are files in LOCAL_DIR/broker, so one machine needs no server.
    _broker_dir = LOCAL_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        # Fanout exchanges (worker control, broadcasts); kombu's default is ./control in the current directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    if os.environ.get("CERTIFAI_ENSURE_BROKER_DIR", "1") == "1":
        _broker_dir.mkdir(parents=True, exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A task is acknowledged only when done, and requeued when its worker dies: no lost scan.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CERTIFAI_CELERY_EAGER", "") == "1"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "certifai.pagination.CursorPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Certifai API",
    "DESCRIPTION": "Repositories, scans, findings and the tracker issues filed for them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN: the CSP allows 'self' only.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One schema component per choice set (`check --deploy` warns about several names for one).
    "ENUM_NAME_OVERRIDES": {
        "SeverityEnum": "findings.models.Severity",
        "TrackerTypeEnum": "trackers.models.TrackerType",
    },
}

# CERTIFAI_LOG_FORMAT: "plain" (default, `make run`) or "json" (one object a line; docker-compose.yml, .env.example).
# Every line names the request (X-Request-ID, certifai/middleware.py) or the Celery task it belongs to
# (certifai/logging.py; a Celery worker's and beat's own handlers get the same filter and formatter).
CERTIFAI_LOG_FORMAT = "json" if os.environ.get("CERTIFAI_LOG_FORMAT", "").strip().lower() == "json" else "plain"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Tokens never reach the logs: credentials in messages and exception text are redacted (trackers/redaction.py;
    # a Celery worker's own handlers get the same filter).
    "filters": {
        "redact_secrets": {"()": "trackers.redaction.RedactingFilter"},
        "context": {"()": "certifai.logging.ContextFilter"},
    },
    "formatters": {
        "plain": {"()": "certifai.logging.PlainFormatter"},
        "json": {"()": "certifai.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": CERTIFAI_LOG_FORMAT,
                             "filters": ["redact_secrets", "context"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("CERTIFAI_LOG_LEVEL", "INFO")},
}

# --- cache (rate-limit hints, task de-duplication): shared by web and workers ----------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "certifai"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(LOCAL_DIR / "cache")}}

CELERY_BEAT_SCHEDULE = {
    # Picks up work whose worker died (lease expired) and failed work whose wait is over.
    "retry-due-tracker-work": {"task": "issues.retry_due",
                               "schedule": float(os.environ.get("CERTIFAI_RETRY_DUE_INTERVAL", "60"))},
    "refresh-tracker-issue-states": {"task": "issues.refresh_states", "schedule": 900.0},
}
# Tests and benchmarks compress the trackers' documented rate limits by this factor.
CERTIFAI_RATE_SCALE = float(os.environ.get("CERTIFAI_RATE_SCALE", "1"))

# Pipeline timings (seconds); tests shorten them to exercise worker loss and retries quickly.
CERTIFAI_ISSUE_LEASE_SECONDS = float(os.environ.get("CERTIFAI_ISSUE_LEASE_SECONDS", "120"))
CERTIFAI_UNKNOWN_OUTCOME_DELAY = float(os.environ.get("CERTIFAI_UNKNOWN_OUTCOME_DELAY", "60"))
CERTIFAI_RETRY_BASE_SECONDS = float(os.environ.get("CERTIFAI_RETRY_BASE_SECONDS", "15"))
# Trackers proceed in parallel, each within its own limits: at most this many syncs talk to one tracker host at
# once, so a slow or failing tracker holds at most that many worker processes; and a sync hands its worker back
# after this many seconds (its repository's remaining work is queued again, behind the other repositories').
CERTIFAI_TRACKER_CONCURRENCY = int(os.environ.get("CERTIFAI_TRACKER_CONCURRENCY", "2"))
CERTIFAI_SYNC_BUDGET_SECONDS = float(os.environ.get("CERTIFAI_SYNC_BUDGET_SECONDS", "60"))
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CERTIFAI_QUEUE", "celery")

# --- operations (docs/operations.md) ----------------------------------------------------------------
# Pool processes of each Celery worker (default: one per CPU).
if os.environ.get("CERTIFAI_WORKER_CONCURRENCY"):
    CELERY_WORKER_CONCURRENCY = int(os.environ["CERTIFAI_WORKER_CONCURRENCY"])
if REDIS_URL:
    # Workers look for the tasks of a vanished worker (unacknowledged for longer than the visibility timeout) every
    # interval × throttle seconds: kombu's default is 100 s. Every 10 s at most (a fifth of a short test timeout),
    # so such tasks are delivered again soon after the visibility timeout, not up to 100 s later.
    CELERY_BROKER_TRANSPORT_OPTIONS.update({
        "unacked_restore_interval": max(1, min(10, CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] // 5)),
        "unacked_restore_throttle": 1,
    })
# /metrics (certifai/metrics.py): with a token, only to `Authorization: Bearer <token>`; without, only to
# loopback and private addresses.
CERTIFAI_METRICS_TOKEN = os.environ.get("CERTIFAI_METRICS_TOKEN", "")
