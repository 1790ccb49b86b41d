"""Settings for mehr, read from the environment.

Without DATABASE_URL the database is a SQLite file under var/; without REDIS_URL Celery uses
kombu's filesystem transport under var/broker, so the product runs with nothing but Python.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab, schedule

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MEHR_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # A development key only; a deployment sets SECRET_KEY (see README).
    SECRET_KEY = "dev-insecure-mehr-secret-key-change-me"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "cases.apps.CasesConfig",
    "retries.apps.RetriesConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mehr_site.urls"
WSGI_APPLICATION = "mehr_site.wsgi.application"

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
                "cases.web.context.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "mehr.sqlite3",
            # SQLite serialises writers; a generous timeout keeps web, worker and beat from
            # tripping over each other in the embedded set-up.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 60 * 60  # one working day
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG and bool(os.environ.get("SECRET_KEY")))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# The browser UI posts plain forms (no script reads the CSRF cookie), so keep it away from scripts.
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "cases.web.errors.csrf_failure"

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    # kombu's filesystem transport: a broker that needs no server, for `make run` on a bare machine.
    for sub in ("out", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Fanout (remote control) exchanges; kombu's default is ./control in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "visibility_timeout": 3600,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", 360))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", 420))
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# mehr_site is not an installed app, so autodiscovery would not find its tasks module.
CELERY_IMPORTS = ("mehr_site.tasks",)

# --- Cache ----------------------------------------------------------------------------------
CACHE_KEY_PREFIX = os.environ.get("MEHR_CACHE_KEY_PREFIX", "mehr")
# Shared by web and worker processes (the worker heartbeat read by /healthz lives here), so it
# must not be the per-process local-memory cache.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # Fail fast rather than hang a request when Redis is down.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }

# --- Email (notifications) -----------------------------------------------------------------
# Console by default so `make run` needs no mail server; a deployment sets the SMTP backend.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10

# --- Health (/healthz) ----------------------------------------------------------------------
# The worker counts as alive while its last heartbeat (beat sends one every 15 s) is younger than this.
MEHR_HEALTH_WORKER_MAX_AGE_SECONDS = int(os.environ.get("MEHR_HEALTH_WORKER_MAX_AGE_SECONDS", 60))
# Timeout for the broker connection probe.
MEHR_HEALTH_BROKER_TIMEOUT_SECONDS = float(os.environ.get("MEHR_HEALTH_BROKER_TIMEOUT_SECONDS", 2))

# The beat schedule is code, not database rows: every entry is a short periodic "claim what is
# due" task; the due times themselves live in the database.
CELERY_BEAT_SCHEDULE: dict = {
    "worker-heartbeat": {
        "task": "mehr_site.tasks.heartbeat",
        "schedule": schedule(timedelta(seconds=15)),
    },
    "close-quiet-cases": {
        "task": "cases.tasks.close_quiet_cases",
        "schedule": schedule(timedelta(minutes=10)),
    },
    "sla-scan": {
        "task": "cases.tasks.sla_scan",
        "schedule": schedule(timedelta(seconds=int(os.environ.get("MEHR_SLA_SCAN_SECONDS", 60)))),
    },
    "notifications-dispatch": {
        "task": "cases.tasks.notifications_dispatch",
        "schedule": schedule(timedelta(seconds=int(os.environ.get("MEHR_NOTIFY_DISPATCH_SECONDS", 15)))),
    },
    "reports-daily": {
        "task": "cases.tasks.reports_daily",
        # Shortly after midnight (London) for the day before; re-running it replaces that day's rows.
        "schedule": crontab(minute=15, hour=0),
    },
}

# --- Product configuration (MEHR.md [design] numbers live here with their defaults) ----------
MEHR = {
    # Resolved / excluded / withdrawn cases close automatically after this quiet period.
    "CLOSE_QUIET_PERIOD_DAYS": int(os.environ.get("MEHR_CLOSE_QUIET_PERIOD_DAYS", 14)),
    # Default number of failed migration attempts before exclusion is proposed (public: 5).
    "MIGRATION_ATTEMPTS_BEFORE_EXCLUSION": int(os.environ.get("MEHR_MIGRATION_ATTEMPTS_BEFORE_EXCLUSION", 5)),
    "ATTACHMENT_MAX_BYTES": int(os.environ.get("MEHR_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)),
    "ATTACHMENT_CONTENT_TYPES": [
        "application/pdf",
        "image/png",
        "image/jpeg",
        "text/plain",
        "text/csv",
        "application/json",
    ],
    "DEFAULT_SLA_WORKING_DAYS": 5,
    # REST API (docs/API.md): page sizes, throttling per token, ingestion batch cap, idempotency keys.
    "API_PAGE_SIZE": int(os.environ.get("MEHR_API_PAGE_SIZE", 50)),
    "API_MAX_PAGE_SIZE": int(os.environ.get("MEHR_API_MAX_PAGE_SIZE", 200)),
    # Lists at scale: above this many rows (planner estimate) the admin changelists show the estimate
    # instead of an exact COUNT(*) (cases/counting.py).
    "ESTIMATED_COUNT_ABOVE": int(os.environ.get("MEHR_ESTIMATED_COUNT_ABOVE", 10_000)),
    # Newest migration/session attempts embedded in GET /api/v1/installations/{id}/ (the rest: sub-resources).
    "API_INSTALLATION_HISTORY_LIMIT": int(os.environ.get("MEHR_API_INSTALLATION_HISTORY_LIMIT", 50)),
    "API_THROTTLE_RATES": {
        "default": os.environ.get("MEHR_API_THROTTLE_RATE", "1200/min"),
        "ingest": os.environ.get("MEHR_API_INGEST_THROTTLE_RATE", "600/min"),
        # A whole-queue CSV export streams for tens of seconds of database time: far fewer than reads.
        "export": os.environ.get("MEHR_API_EXPORT_THROTTLE_RATE", "30/min"),
    },
    "API_INGEST_MAX_BATCH": int(os.environ.get("MEHR_API_INGEST_MAX_BATCH", 1000)),
    "API_IDEMPOTENCY_TTL_HOURS": int(os.environ.get("MEHR_API_IDEMPOTENCY_TTL_HOURS", 24)),
    "API_TOKEN_TOUCH_SECONDS": 300,
    # --- SLA clocks, escalation, notifications, reports (docs/NOTIFICATIONS.md) ---
    # Warn when a running clock has this many working days (may be fractional) left.
    "SLA_WARNING_WORKING_DAYS": float(os.environ.get("MEHR_SLA_WARNING_WORKING_DAYS", 1)),
    # "escalate": a breach raises the priority one step and notifies; "notify_only": it only notifies.
    "SLA_ESCALATION_MODE": os.environ.get("MEHR_SLA_ESCALATION_MODE", "escalate"),
    # Whose clocks run in each state; a state not listed (e.g. ESCALATED, AWAITING_SMSO) pauses both.
    "SLA_WAITING_ON": {
        "RAISED": "DCC",
        "TRIAGED": "DCC",
        "AWAITING_DCC": "DCC",
        "RETRY_SCHEDULED": "DCC",
        "RETRYING": "DCC",
        "EXCLUSION_PROPOSED": "DCC",
        "AWAITING_USER": "USER",
    },
    "SLA_SCAN_BATCH_SIZE": int(os.environ.get("MEHR_SLA_SCAN_BATCH_SIZE", 500)),
    # Webhook/email retry schedule: delay before attempt 2, 3, ...; after the last one it is dead-lettered.
    "NOTIFY_RETRY_DELAYS_SECONDS": [
        int(x) for x in env_list("MEHR_NOTIFY_RETRY_DELAYS_SECONDS", "30,120,600,1800,7200,21600")
    ],
    "NOTIFY_WEBHOOK_TIMEOUT_SECONDS": float(os.environ.get("MEHR_NOTIFY_WEBHOOK_TIMEOUT_SECONDS", 10)),
    # Webhooks to loopback/private/link-local addresses are refused (SSRF) unless this is on
    # (tests and local demos with a receiver on 127.0.0.1).
    "NOTIFY_WEBHOOK_ALLOW_PRIVATE": env_bool("MEHR_NOTIFY_WEBHOOK_ALLOW_PRIVATE", default=False),
    # A claimed message whose worker died becomes due again after this lease.
    "NOTIFY_CLAIM_LEASE_SECONDS": int(os.environ.get("MEHR_NOTIFY_CLAIM_LEASE_SECONDS", 300)),
    "NOTIFY_BATCH_SIZE": int(os.environ.get("MEHR_NOTIFY_BATCH_SIZE", 100)),
    "NOTIFY_EMAIL_FROM": os.environ.get("MEHR_NOTIFY_EMAIL_FROM", "mehr@localhost"),
    "NOTIFY_SITE_URL": os.environ.get("MEHR_SITE_URL", "http://127.0.0.1:8000"),
    # Open-case ageing buckets of the daily report, in days since raised: <1, 1-5, 5-10, 10-30, 30+.
    "REPORT_AGEING_BUCKETS_DAYS": [1, 5, 10, 30],
    "IMPORT_MAX_ROWS": int(os.environ.get("MEHR_IMPORT_MAX_ROWS", 100_000)),
    # Login throttling (browser sign-in): failures allowed per username / per client address within
    # the lockout window, after which sign-in is refused until the window passes.
    "LOGIN_MAX_FAILURES_PER_USERNAME": int(os.environ.get("MEHR_LOGIN_MAX_FAILURES_PER_USERNAME", 5)),
    "LOGIN_MAX_FAILURES_PER_ADDRESS": int(os.environ.get("MEHR_LOGIN_MAX_FAILURES_PER_ADDRESS", 20)),
    "LOGIN_LOCKOUT_SECONDS": int(os.environ.get("MEHR_LOGIN_LOCKOUT_SECONDS", 15 * 60)),
    # Dashboard rollups (docs/UI.md): beat rebuilds the open-case and retry-outcome summary tables
    # this often; the dashboard reads them while they are younger than the max age and otherwise
    # (never built, beat down) falls back to live aggregates, which are exact but O(cases).
    "DASHBOARD_ROLLUP_INTERVAL_SECONDS": int(os.environ.get("MEHR_DASHBOARD_ROLLUP_INTERVAL_SECONDS", 60)),
    "DASHBOARD_ROLLUP_MAX_AGE_SECONDS": int(os.environ.get("MEHR_DASHBOARD_ROLLUP_MAX_AGE_SECONDS", 300)),
}

# --- Retry engine (retries app; MEHR.md §5). Policy numbers live in RetryPolicy rows; these are
# the engine's own operating numbers. -----------------------------------------------------------
MEHR |= {
    # Beat claims due session attempts this often, in batches, for at most this long per tick.
    "RETRY_CLAIM_INTERVAL_SECONDS": float(os.environ.get("MEHR_RETRY_CLAIM_INTERVAL_SECONDS", 1.0)),
    "RETRY_CLAIM_BATCH_SIZE": int(os.environ.get("MEHR_RETRY_CLAIM_BATCH_SIZE", 1000)),
    "RETRY_CLAIM_TICK_BUDGET_SECONDS": float(os.environ.get("MEHR_RETRY_CLAIM_TICK_BUDGET_SECONDS", 0.8)),
    # At most this many attempts sit claimed but not yet started (queued for a worker); 0 = no cap.
    # Without a cap a large due backlog is claimed at once, leases expire while the messages wait
    # in the queue, and workers spend their time discarding stale messages (docs/SCALING.md).
    "RETRY_MAX_CLAIMED": int(os.environ.get("MEHR_RETRY_MAX_CLAIMED", 2000)),
    # MEHR.md §5 "next working day with allocation": migration windows a cohort may have open on one
    # working day; a reschedule moves on to the next working day with room. 0 = no limit. Per cohort:
    # MEHR_RETRY_DAILY_ALLOCATION_BY_COHORT="IOC=500,FOC=200" (others take the default).
    # The engine's hot statements as server-side prepared statements (retries/sql.py); 0 behind a
    # pooler that cannot keep them.
    "RETRY_PREPARED_STATEMENTS": env_bool("MEHR_RETRY_PREPARED_STATEMENTS", default=True),
    "RETRY_DAILY_ALLOCATION": int(os.environ.get("MEHR_RETRY_DAILY_ALLOCATION", 0)),
    "RETRY_DAILY_ALLOCATION_BY_COHORT": {
        cohort.strip(): int(n)
        for cohort, _, n in (
            item.partition("=") for item in env_list("MEHR_RETRY_DAILY_ALLOCATION_BY_COHORT", "") if item.strip()
        )
    },
    # A claimed attempt whose task has not started within this lease goes back to scheduled.
    "RETRY_CLAIM_LEASE_SECONDS": int(os.environ.get("MEHR_RETRY_CLAIM_LEASE_SECONDS", 300)),
    # A running attempt's lease is its session timeout plus this grace; past it the reaper times it out.
    "RETRY_RUN_LEASE_GRACE_SECONDS": int(os.environ.get("MEHR_RETRY_RUN_LEASE_GRACE_SECONDS", 60)),
    # Celery soft/hard time limits of a session task: the session timeout plus these.
    "RETRY_SOFT_TIME_LIMIT_GRACE_SECONDS": int(os.environ.get("MEHR_RETRY_SOFT_TIME_LIMIT_GRACE_SECONDS", 10)),
    "RETRY_HARD_TIME_LIMIT_GRACE_SECONDS": int(os.environ.get("MEHR_RETRY_HARD_TIME_LIMIT_GRACE_SECONDS", 30)),
    "RETRY_REAP_INTERVAL_SECONDS": float(os.environ.get("MEHR_RETRY_REAP_INTERVAL_SECONDS", 15)),
    # No policy may set a longer session timeout (the system check compares it with the broker).
    "RETRY_MAX_SESSION_TIMEOUT_SECONDS": int(os.environ.get("MEHR_RETRY_MAX_SESSION_TIMEOUT_SECONDS", 600)),
    # /healthz reports the due backlog as failing when the oldest due, unclaimed attempt is older.
    "RETRY_HEALTH_MAX_LAG_SECONDS": float(os.environ.get("MEHR_RETRY_HEALTH_MAX_LAG_SECONDS", 120)),
    # S1SP: "simulator" or "http".
    "S1SP_BACKEND": os.environ.get("MEHR_S1SP_BACKEND", "simulator"),
    "S1SP_URL": os.environ.get("MEHR_S1SP_URL", ""),
    "S1SP_CONNECT_TIMEOUT_SECONDS": float(os.environ.get("MEHR_S1SP_CONNECT_TIMEOUT_SECONDS", 5)),
    "S1SP_SIMULATOR_LATENCY_SECONDS": float(os.environ.get("MEHR_S1SP_SIMULATOR_LATENCY_SECONDS", 0)),
    "S1SP_SIMULATOR_SEED": int(os.environ.get("MEHR_S1SP_SIMULATOR_SEED", 0)),
    "S1SP_SIMULATOR_DEFAULT_MODE": os.environ.get("MEHR_S1SP_SIMULATOR_DEFAULT_MODE", "CONNECT"),
    # "Never answers" waits for the session timeout times this (demos use e.g. 0.01).
    "S1SP_SIMULATOR_TIME_SCALE": float(os.environ.get("MEHR_S1SP_SIMULATOR_TIME_SCALE", 1.0)),
}
CELERY_TASK_ROUTES = {"retries.tasks.run_session_attempt": {"queue": "sessions"}}
# SLA/notification/report tasks go to their own queues (the launcher's worker consumes them all).
CELERY_TASK_ROUTES |= {
    "cases.tasks.notifications_*": {"queue": "notifications"},
    "cases.tasks.reports_*": {"queue": "reports"},
    "cases.tasks.sla_*": {"queue": "notifications"},
    # Dashboard rollups are reporting work: keep them off the sessions and notifications queues.
    "cases.tasks.dashboard_*": {"queue": "reports"},
}
CELERY_BEAT_SCHEDULE |= {
    "retries-claim-due": {
        "task": "retries.tasks.claim_due_session_attempts",
        "schedule": schedule(timedelta(seconds=MEHR["RETRY_CLAIM_INTERVAL_SECONDS"])),
        # A tick that is not picked up before the next one is pointless: let it expire.
        "options": {"expires": max(MEHR["RETRY_CLAIM_INTERVAL_SECONDS"] * 5, 5)},
    },
    "retries-reevaluate-retired-checks": {
        "task": "retries.tasks.reevaluate_retired_checks",
        "schedule": schedule(timedelta(hours=1)),
    },
    "retries-reap-leases": {
        "task": "retries.tasks.reap_expired_leases",
        "schedule": schedule(timedelta(seconds=MEHR["RETRY_REAP_INTERVAL_SECONDS"])),
        "options": {"expires": max(MEHR["RETRY_REAP_INTERVAL_SECONDS"] * 2, 10)},
    },
}
# Dashboard rollups (cases.services.dashboard), on the reports queue (CELERY_TASK_ROUTES above).
CELERY_BEAT_SCHEDULE |= {
    "dashboard-rollup-rebuild": {
        "task": "cases.tasks.dashboard_rollup_rebuild",
        "schedule": schedule(timedelta(seconds=MEHR["DASHBOARD_ROLLUP_INTERVAL_SECONDS"])),
        # A rebuild that waited past the next tick is superseded by that tick's.
        "options": {"expires": MEHR["DASHBOARD_ROLLUP_INTERVAL_SECONDS"]},
    },
}

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MEHR case manager API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Separate request/response components so multipart file fields are described correctly.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CaseStateEnum": "cases.domain.CaseState",
        "PartyEnum": "cases.domain.Party",
        "ExcludedCategoryEnum": "cases.domain.ExcludedCategory",
        "NoteKindEnum": "cases.domain.NoteKind",
        "CohortEnum": "cases.domain.Cohort",
        "StageEnum": "cases.domain.Stage",
        "CategoryEnum": "cases.domain.Category",
        "RoleEnum": "cases.domain.Role",
        "EventKindEnum": "cases.domain.EventKind",
        "StepKindEnum": "cases.domain.StepKind",
        "DeviceTypeEnum": "cases.domain.DeviceType",
        "InstallationTypeEnum": "cases.domain.InstallationType",
        "MigrationStatusEnum": "cases.domain.MigrationStatus",
        "PriorityEnum": "cases.domain.Priority",
        "VisibilityEnum": "cases.domain.Visibility",
    },
    "DESCRIPTION": "REST API of the MEHR case manager for Users' and DCC systems. See docs/API.md.",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
