"""Settings for OpenRefusal: one file, driven by the environment, with safe production defaults.

Without `DATABASE_URL` a local PostgreSQL is started from the `pgserver` package in `.data/`;
without `REDIS_URL` Celery uses kombu's filesystem transport and the cache is process-local.
"""

from __future__ import annotations

import sys
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from governance import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"

env = environ.Env()

# "production" (the default) is strict; "local" is what `make run` and `make test` use on a
# developer's machine: plain HTTP on 127.0.0.1, a generated secret key, e-mail to the console.
DJANGO_ENV = env.str("DJANGO_ENV", default="production")
if DJANGO_ENV not in {"production", "local"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'production' or 'local', not {DJANGO_ENV!r}")
LOCAL = DJANGO_ENV == "local"
TESTING = "pytest" in sys.modules

DEBUG = env.bool("DEBUG", default=False)
if LOCAL:
    SECRET_KEY = env.str("SECRET_KEY", default="") or embedded.secret_key()
else:
    SECRET_KEY = env.str("SECRET_KEY")  # fails loudly when missing
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if LOCAL else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if LOCAL else "")

# --- Applications -----------------------------------------------------------------------------
INSTALLED_APPS = [
    "governance.apps.GovernanceConfig",
    "policies.apps.PoliciesConfig",
    "audits.apps.AuditsConfig",
    "appeals.apps.AppealsConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.postgres",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Lets templates/django/forms/ override the form templates (accessible rendering).
    "django.forms",
    "rules.apps.AutodiscoverRulesConfig",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "governance.middleware.RequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "governance.middleware.NulQueryMiddleware",
    "governance.middleware.ReaderTimezoneMiddleware",
    # ETag / If-None-Match and Vary on every API read (after authentication, so a 304 is
    # decided on the body this reader would get).
    "governance.middleware.ApiConditionalGetMiddleware",
    # Last, so it sees the view: every API POST with an Idempotency-Key is processed once.
    "governance.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "governance.urls"
# Forms render through templates/django/forms/ (labels, error summary, aria-describedby).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
WSGI_APPLICATION = "governance.wsgi.application"
ASGI_APPLICATION = "governance.asgi.application"

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
                "governance.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    DATABASES = {"default": embedded.database_settings()}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured(
        "OpenRefusal runs on PostgreSQL only; DATABASE_URL must be postgres://"
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="test_openrefusal")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker, sessions ------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="openrefusal"),
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"
    _broker = embedded.broker_folder()
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker / "queue"),
        "data_folder_out": str(_broker / "queue"),
        "processed_folder": str(_broker / "processed"),
        # Exchange tables; kombu's default is the working directory.
        "control_folder": str(_broker / "control"),
        "store_processed": False,
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    "purge-idempotency-records": {
        "task": "governance.tasks.purge_idempotency_records",
        "schedule": 3600.0,
    },
    "comment-period-notices": {
        "task": "policies.tasks.comment_period_notices",
        "schedule": 300.0,
    },
    # Evidence ingestions whose worker went silent are queued again or failed (audits).
    "evaluation-runs-recover": {
        "task": "audits.tasks.evaluation_runs_recover",
        "schedule": 60.0,
    },
    # Audit reports whose embargo ended are published; companies not yet notified are.
    "audit-reports-due": {
        "task": "audits.tasks.audit_reports_due",
        "schedule": 60.0,
    },
    # Bulk dumps of every public dataset (governance.services.dumps), nightly at 02:30 UTC.
    "nightly-dumps": {
        "task": "governance.tasks.dumps_write",
        "schedule": crontab(hour=2, minute=30),
    },
    # Webhook attempts whose task was lost (broker down at commit, worker gone) are re-sent.
    "webhook-deliveries-due": {
        "task": "governance.tasks.webhook_deliveries_due",
        "schedule": 300.0,
    },
    # Appeals: passed deadlines notified once, escalation windows closed, citations settled.
    "appeal-deadlines-due": {
        "task": "appeals.tasks.appeal_deadlines_due",
        "schedule": 300.0,
    },
    # Appeals: each company's transparency report of the quarter that ended, frozen (daily, so a
    # missed first day of the quarter is caught up; compiling twice changes nothing).
    "transparency-reports-compile": {
        "task": "appeals.tasks.transparency_reports_compile_due",
        "schedule": crontab(hour=0, minute=20),
    },
    # A safety net: posting already schedules the pass after each commit.
    "cluster-pending-comments": {
        "task": "policies.tasks.comments_cluster_pending",
        "schedule": 30.0,
    },
}
CELERY_TIMEZONE = "UTC"

# --- Accounts (django-allauth) ----------------------------------------------------------------
AUTH_USER_MODEL = "governance.User"
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_RATE_LIMITS = {
    # allauth's defaults, stated here so they are visible and reviewed.
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reset_password": "20/m/ip,5/m/key",
    "reauthenticate": "10/m/user",
    "reset_password_from_key": "20/m/ip",
    "signup": "20/m/ip",
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "confirm_email": "1/3m/key",
}
ACCOUNT_ADAPTER = "governance.adapters.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[OpenRefusal] "
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "OpenRefusal"

# --- E-mail -----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="consolemail://" if LOCAL else "smtp://localhost:25"
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="OpenRefusal <noreply@openrefusal.org>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly",
        # Requests with a personal token may only do what its scopes allow.
        "governance.api_auth.HasTokenScope",
    ],
    "DEFAULT_PAGINATION_CLASS": "governance.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        # Per person for sessions; tokens are limited per token and per scope instead
        # (OPENREFUSAL["API_TOKEN_RATE"], ["API_SCOPE_RATES"]).
        "governance.throttling.SessionUserRateThrottle",
        "governance.throttling.TokenScopeRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="600/min"),
    },
    "EXCEPTION_HANDLER": "governance.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    # Choice sets that share a field name get names of their own in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CommentStatusEnum": "policies.models.comments.Comment.Status",
        "CommentClusterKindEnum": "policies.models.comments.CommentCluster.Kind",
        "OrganizationKindEnum": "governance.models.organizations.Organization.Kind",
        "PolicyVersionStatusEnum": "policies.models.PolicyVersion.Status",
        "AppealStatusEnum": "appeals.models.Status",
        "AppealKindEnum": "appeals.models.Kind",
        "AppealRejectionReasonEnum": "appeals.models.RejectionReason",
        "RecommendationSourceEnum": "appeals.models.Recommendation.Source",
        "SourceEnum": "audits.models.EvaluationRun.Source",  # keeps its name beside the above
        "ConformanceVerdictEnum": "audits.selectors.CONFORMANCE_VERDICTS",
        "RobustnessVerdictEnum": "audits.robustness.Robustness.ORDER",
    },
    "TITLE": "OpenRefusal API",
    "DESCRIPTION": (
        "The public record of AI refusal policies: organizations, policy versions, public "
        "comment, evidence, audits, appeals and the hash-chained public ledger. Reads are open; "
        "writes need a session or a personal API token (`Authorization: Bearer orf_…`). "
        'Errors always have the shape `{"error": {"code", "message", "fields"}}`.\n\n'
        "**Tokens.** Create one on your account's *API tokens* page; its scopes limit what it "
        "can do (`read:public` to read, `write:account` to manage your account). "
        "**Retries.** Send an `Idempotency-Key` header (any unique value, e.g. a UUID) with a "
        "POST and retry it safely: the first request is processed once, repeats get the same "
        "response back with `Idempotent-Replayed: true`. **Lists** are cursor-paginated "
        "(follow `next`). **Rate limits** answer 429 with `Retry-After`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "governance.api.base.add_api_conventions",
    ],
}

# --- Internationalisation and time ------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles" if LOCAL else Path(env.str("STATIC_ROOT", "/srv/static"))
if TESTING:
    # Tests serve from the finders; never from files a concurrent `make run` is collecting.
    STATIC_ROOT = DATA_DIR / "test-static"
if LOCAL:
    # Exists before the first collectstatic, so WhiteNoise has a folder to watch.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
if TESTING:
    # Tests that seed the demo (which writes a bulk dump) never touch `make run`'s files.
    MEDIA_ROOT = DATA_DIR / "test-media"
WHITENOISE_USE_FINDERS = LOCAL

# --- Security ---------------------------------------------------------------------------------
# Served over HTTPS unless told otherwise (make run serves plain HTTP on 127.0.0.1).
HTTPS = env.bool("HTTPS", default=not LOCAL)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
CSRF_FAILURE_VIEW = "governance.views.errors.csrf_failure"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Logging ----------------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if LOCAL else "json")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "openrefusal.request": {"level": env.str("REQUEST_LOG_LEVEL", default="INFO")},
    },
}

# --- Product settings -------------------------------------------------------------------------
OPENREFUSAL = {
    "INVITATION_DAYS": env.int("INVITATION_DAYS", default=14),
    "IDEMPOTENCY_HOURS": env.int("IDEMPOTENCY_HOURS", default=24),
    "API_TOKEN_MAX_DAYS": env.int("API_TOKEN_MAX_DAYS", default=365),
    # Public comment (policies.services.comments)
    "COMMENT_PERIOD_MIN_DAYS": env.int("COMMENT_PERIOD_MIN_DAYS", default=30),
    "COMMENT_PERIOD_MAX_DAYS": env.int("COMMENT_PERIOD_MAX_DAYS", default=365),
    "COMMENT_CLOSING_NOTICE_DAYS": env.int("COMMENT_CLOSING_NOTICE_DAYS", default=3),
    "COMMENT_EDIT_MINUTES": env.int("COMMENT_EDIT_MINUTES", default=15),
    "COMMENT_MAX_CHARS": env.int("COMMENT_MAX_CHARS", default=10_000),
    "COMMENT_MAX_LINKS": env.int("COMMENT_MAX_LINKS", default=10),
    # Held for a moderator before publishing: this many links or more, or a younger account.
    "COMMENT_HOLD_LINKS": env.int("COMMENT_HOLD_LINKS", default=3),
    "COMMENT_HOLD_ACCOUNT_HOURS": env.int("COMMENT_HOLD_ACCOUNT_HOURS", default=24),
    # Rate limits on posting comments and replies ("<n>/<second|minute|hour|day>"), in Redis.
    "COMMENT_RATE_ACCOUNT": env.str("COMMENT_RATE_ACCOUNT", default="10/minute"),
    "COMMENT_RATE_IP": env.str("COMMENT_RATE_IP", default="60/minute"),
    # Near-duplicate clustering (MinHash LSH) and the duty to respond.
    "CLUSTER_JACCARD": env.float("CLUSTER_JACCARD", default=0.8),
    "RESPONSE_CLUSTER_MIN": env.int("RESPONSE_CLUSTER_MIN", default=25),
    # Evidence uploads (audits): refused above this size before a byte is read, and the most
    # a zip archive may decompress to.
    "EVIDENCE_MAX_BYTES": env.int("EVIDENCE_MAX_BYTES", default=1024**3),
    # An ingestion with no heartbeat for this long has lost its worker: it is queued again,
    # up to this many starts in all, then failed (audits.services.runs_recover).
    "EVIDENCE_STALE_MINUTES": env.int("EVIDENCE_STALE_MINUTES", default=10),
    "EVIDENCE_MAX_ATTEMPTS": env.int("EVIDENCE_MAX_ATTEMPTS", default=3),
    # Conformance verdicts (audits.selectors.verdict_for): the share of samples showing a
    # clause's expected behaviour is compared with the target through its Wilson 95 % interval.
    "CONFORMANCE_TARGET": env.float("CONFORMANCE_TARGET", default=0.9),
    "CONFORMANCE_MIN_SAMPLES": env.int("CONFORMANCE_MIN_SAMPLES", default=10),
    # Robustness under reframing (audits.robustness, docs/robustness.md): the gap between the
    # refusal rate asked directly and reframed, through its Newcombe 95 % interval — breaks
    # when surely at least ROBUSTNESS_BREAKS, holds when surely under ROBUSTNESS_TOLERANCE.
    "ROBUSTNESS_TOLERANCE": env.float("ROBUSTNESS_TOLERANCE", default=0.10),
    "ROBUSTNESS_BREAKS": env.float("ROBUSTNESS_BREAKS", default=0.20),
    "ROBUSTNESS_MIN_SAMPLES": env.int("ROBUSTNESS_MIN_SAMPLES", default=10),
    # Drift alerts (audits.drift_services): a clause's refusal rate moving against its expected
    # behaviour between two system versions' runs, with p below DRIFT_ALPHA and at least
    # DRIFT_MIN_SAMPLES on each side.
    "DRIFT_ALPHA": env.float("DRIFT_ALPHA", default=0.05),
    "DRIFT_MIN_SAMPLES": env.int("DRIFT_MIN_SAMPLES", default=10),
    "EVIDENCE_MAX_UNCOMPRESSED_BYTES": env.int(
        "EVIDENCE_MAX_UNCOMPRESSED_BYTES", default=4 * 1024**3
    ),
    # Audit reports (audits.report_services): the embargo after the company is notified, in
    # days (the auditor may shorten it to the minimum, or extend it to the maximum), and the
    # largest PDF attachment.
    "AUDIT_EMBARGO_DAYS": env.int("AUDIT_EMBARGO_DAYS", default=30),
    "AUDIT_EMBARGO_MIN_DAYS": env.int("AUDIT_EMBARGO_MIN_DAYS", default=7),
    "AUDIT_EMBARGO_MAX_DAYS": env.int("AUDIT_EMBARGO_MAX_DAYS", default=90),
    "AUDIT_ATTACHMENT_MAX_BYTES": env.int("AUDIT_ATTACHMENT_MAX_BYTES", default=20 * 1024**2),
    # Webhooks (governance.services.webhooks): attempts per event (the first included), the
    # wait before the second (doubled after each failure), the receiver's time to answer, and
    # whether targets may be loopback/private addresses (only for development and tests: in
    # production that would let anyone make the platform call its own network).
    "WEBHOOK_MAX_ATTEMPTS": env.int("WEBHOOK_MAX_ATTEMPTS", default=6),
    "WEBHOOK_RETRY_BASE_SECONDS": env.int("WEBHOOK_RETRY_BASE_SECONDS", default=60),
    "WEBHOOK_TIMEOUT_SECONDS": env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0),
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": env.bool(
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=DEBUG or TESTING
    ),
    "WEBHOOK_MAX_PER_OWNER": env.int("WEBHOOK_MAX_PER_OWNER", default=20),
    # API tokens (governance.throttling): every request of a token, and the requests of a
    # token that need one scope ("<n>/<second|minute|hour|day>", counted in Redis).
    "API_TOKEN_RATE": env.str("THROTTLE_TOKEN", default="1200/minute"),
    "API_SCOPE_RATES": {
        "read:public": env.str("THROTTLE_SCOPE_READ", default="1200/minute"),
        "write:account": env.str("THROTTLE_SCOPE_WRITE_ACCOUNT", default="60/minute"),
        "write:policies": env.str("THROTTLE_SCOPE_WRITE_POLICIES", default="60/minute"),
        "write:comments": env.str("THROTTLE_SCOPE_WRITE_COMMENTS", default="60/minute"),
        "write:moderation": env.str("THROTTLE_SCOPE_WRITE_MODERATION", default="120/minute"),
        "write:evidence": env.str("THROTTLE_SCOPE_WRITE_EVIDENCE", default="30/minute"),
        "write:audits": env.str("THROTTLE_SCOPE_WRITE_AUDITS", default="60/minute"),
        "write:appeals": env.str("THROTTLE_SCOPE_WRITE_APPEALS", default="60/minute"),
        "write:webhooks": env.str("THROTTLE_SCOPE_WRITE_WEBHOOKS", default="60/minute"),
    },
    # Bulk dumps: how many nightly dumps stay downloadable.
    "DUMP_KEEP": env.int("DUMP_KEEP", default=7),
    # Appeals (appeals.workflow): days to acknowledge and to decide (from submission), for the
    # filer to escalate (from the decision), for the panel (from escalation), to implement a
    # panel's decision and to answer a recommendation. needs_info stops the clock.
    "APPEAL_ACK_DAYS": env.int("APPEAL_ACK_DAYS", default=7),
    "APPEAL_DECISION_DAYS": env.int("APPEAL_DECISION_DAYS", default=30),
    "APPEAL_ESCALATION_DAYS": env.int("APPEAL_ESCALATION_DAYS", default=30),
    "APPEAL_PANEL_DAYS": env.int("APPEAL_PANEL_DAYS", default=90),
    "APPEAL_IMPLEMENT_DAYS": env.int("APPEAL_IMPLEMENT_DAYS", default=30),
    "APPEAL_RECOMMENDATION_ANSWER_DAYS": env.int("APPEAL_RECOMMENDATION_ANSWER_DAYS", default=30),
    "APPEAL_PANEL_MIN": env.int("APPEAL_PANEL_MIN", default=3),
    # A transcript (pasted, or read from an uploaded JSON chat export of at most this size).
    "APPEAL_TRANSCRIPT_MAX_CHARS": env.int("APPEAL_TRANSCRIPT_MAX_CHARS", default=100_000),
    "APPEAL_EXPORT_MAX_BYTES": env.int("APPEAL_EXPORT_MAX_BYTES", default=1024**2),
}
