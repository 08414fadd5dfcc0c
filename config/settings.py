"""Settings, read once from the environment through django-environ.

Every variable is documented in `.env.example`. Nothing secret has a production default:
with DEBUG off, SECRET_KEY, PIN_HMAC_KEY and PIN_ENCRYPTION_KEYS must be set.
"""

import ipaddress
import os
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Build steps (migrations, static files, catalogs) sign and encrypt nothing: no secrets needed.
BUILD_STEP = (
    Path(sys.argv[0]).name == "manage.py"
    and len(sys.argv) > 1
    and sys.argv[1] in {"makemigrations", "collectstatic", "makemessages", "compilemessages"}
)


def _secret(name: str, debug_default: str) -> str:
    """A secret from the environment; a fixed development value only with DEBUG or a build step."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG or BUILD_STEP:
        return debug_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see .env.example).")


SECRET_KEY = _secret(
    "SECRET_KEY", "django-insecure-demo-only-key-never-use-in-production-0123456789"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.OperatorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "resellers",
    "billing",
    "wallets",
    "topup",
    "api",
    "webhooks",
    "locales",
]

MIDDLEWARE = [
    "config.metrics.RequestLatencyMiddleware",
    "config.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the language cookie, else Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "locales.middleware.UserLocaleMiddleware",  # then the signed-in user's language and zone
    "django_otp.middleware.OTPMiddleware",
    "resellers.middleware.MustChangePasswordMiddleware",
    "resellers.middleware.TwoFactorMiddleware",
    "config.replica.ReplicaReadsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.StyledNotFoundMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the 429 page.
    "axes.middleware.AxesMiddleware",
]
# The API (/api/): a key per call, no session; config.wsgi serves it with these only.
API_PREFIX = "/api/"
API_MIDDLEWARE = [
    "config.metrics.RequestLatencyMiddleware",
    "config.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # `detail` texts follow Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "resellers.context_processors.navigation",
            ],
        },
    },
]

if BUILD_STEP and not env.str("DATABASE_URL", default=""):
    # makemigrations and collectstatic in an image build: nothing is read from this one.
    os.environ["DATABASE_URL"] = "postgres://build@localhost/build"
if not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `make demo` runs the demo on its own embedded PostgreSQL;"
        " otherwise set DATABASE_URL=postgres://USER@HOST:PORT/NAME (see .env.example)."
    )
DATABASES = {"default": env.db("DATABASE_URL")}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...).")
# Django's backend, whose health check needs no round trip (see its docstring).
DATABASES["default"]["ENGINE"] = "config.postgresql"
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Statements prepared per connection (config/postgresql/prepared.py); off behind a tx pooler.
PREPARED_STATEMENTS = env.bool("PREPARED_STATEMENTS", default=True)

# A long generation's progress, on a second connection (visible before the cards' commit).
DATABASES["progress"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}

# --- Cluster: connection pooler, read replica (config/replica.py, config/checks.py) ---------
# "transaction": a pooler (PgBouncer pool_mode=transaction) shares server sessions between
# clients, so nothing may outlive a transaction: no prepared statements, no server-side
# cursors (named cursors live in a session), no session-level SET or advisory lock.
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER not in ("", "session", "transaction"):
    raise ImproperlyConfigured("DATABASE_POOLER must be empty, 'session' or 'transaction'.")
if DATABASE_POOLER == "transaction":
    for _alias in ("default", "progress"):
        DATABASES[_alias]["DISABLE_SERVER_SIDE_CURSORS"] = True
# A streaming hot standby for the read-only heavy pages (REPLICA_READ_VIEWS).
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
REPLICA_READS = bool(DATABASE_REPLICA_URL)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **env.db("DATABASE_REPLICA_URL"),
        "ENGINE": "config.postgresql",
        "ATOMIC_REQUESTS": False,
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        # A replica that is gone must cost a page little before it reads the primary.
        "OPTIONS": {"connect_timeout": env.int("REPLICA_CONNECT_TIMEOUT", default=2)},
        "DISABLE_SERVER_SIDE_CURSORS": DATABASE_POOLER == "transaction",
    }
DATABASE_ROUTERS = ["config.replica.ReplicaRouter"]
REPLICA_READ_VIEWS = [
    "topup:dashboard",
    "topup:liability-report",
    "topup:card-list",
    "topup:card-detail",
    "topup:series-list",
    "topup:series-detail",
    "billing:transaction-list",
    "topup:audit-log",
    # Exports: read-only GETs, streamed (config/replica.py). The card exports with PINs
    # (topup:card-export, topup:card-export-encrypted) are not here: POSTs that write the
    # audit row of exactly the cards they read, on the primary.
    "topup:liability-report-csv",
    "topup:series-reconciliation",
    "topup:audit-log-csv",
]
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=5)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=3)
REPLICA_READ_YOUR_WRITES_SECONDS = env.int("REPLICA_READ_YOUR_WRITES_SECONDS", default=10)
# /metrics (config/metrics.py): this bearer token or these networks; neither set: nobody.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
# Logs: one JSON object a line with the request id (python-json-logger); "text" for people.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
# --- end of cluster -------------------------------------------------------------------------

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "resellers.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in ("UserAttributeSimilarityValidator", "MinimumLengthValidator")
    + ("CommonPasswordValidator", "NumericPasswordValidator")
]

AUTHENTICATION_BACKENDS = [
    "config.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Two-factor sign-in (django-otp) for who may reveal/export PINs or delete cards; on in
# production, off in the demo unless set (resellers/middleware.py).
OTP_REQUIRED_FOR_CARD_SECRETS = env.bool("OTP_REQUIRED_FOR_CARD_SECRETS", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Top-up billing")

# Sign-in throttling (django-axes, database handler): see config/login_throttle.py.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "config.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "config.login_throttle.lockout_response"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_RESET_ON_SUCCESS, AXES_VERBOSE = True, False

LOGIN_URL, LOGIN_REDIRECT_URL, LOGOUT_REDIRECT_URL = "login", "home", "login"

# A catalog per language, locale/<ll>/LC_MESSAGES/django.po: see docs/architecture.md.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish")), ("fr", _("French"))]
LANGUAGES += [("pt-br", _("Brazilian Portuguese")), ("ru", _("Russian")), ("ar", _("Arabic"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SAMESITE, LANGUAGE_COOKIE_HTTPONLY = "Lax", True
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

TASKS = {
    "default": {"BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend")}
}

# Security: strict by default; the demo (DEBUG on) runs over plain http on localhost.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Error reports hide the locals that hold plain PINs in every frame (config/error_reports.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.PinSafeExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.request_id.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The PDF renderer narrates every step at INFO; its warnings still show.
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}

# --- Top-up cards ---------------------------------------------------------------------------
# PIN secrecy: a keyed digest for lookup and an encrypted copy for printing, with keys that
# live outside the database and apart from SECRET_KEY. See topup/pins.py.
PIN_HMAC_KEY = _secret("PIN_HMAC_KEY", "demo-only-pin-hmac-key-never-use-in-production")
# Set only while `manage.py rotate_pin_keys` moves the cards to a new PIN_HMAC_KEY.
PIN_HMAC_KEY_PREVIOUS = env.str("PIN_HMAC_KEY_PREVIOUS", default="")
# "version:key" pairs; new cards use the highest version, old versions decrypt old cards.
PIN_ENCRYPTION_KEYS = _secret(
    "PIN_ENCRYPTION_KEYS", "1:demo-only-pin-encryption-key-never-use-in-production"
)
# Guessing guard: live cards of one PIN length / 10**length may not exceed this.
TOPUP_MAX_GUESS_RATIO = env.float("TOPUP_MAX_GUESS_RATIO", default=1e-6)
# Series larger than this are generated by the background worker.
TOPUP_BACKGROUND_THRESHOLD = env.int("TOPUP_BACKGROUND_THRESHOLD", default=5000)
# The card summary is compacted by the task worker once a read sums more delta rows than this.
TOPUP_SUMMARY_COMPACT_ROWS = env.int("TOPUP_SUMMARY_COMPACT_ROWS", default=20_000)

# Four eyes: the user who generated a series may not export its PINs or release it. On by
# default in production; the demo (DEBUG) has one operator, so it is off there unless set.
TOPUP_FOUR_EYES = env.bool("TOPUP_FOUR_EYES", default=not DEBUG)
# With four eyes on, a wallet top-up or adjustment above this amount (in the wallet's currency)
# waits for a second person's approval (wallets.approvals).
WALLETS_FOUR_EYES_ABOVE = Decimal(env.str("WALLETS_FOUR_EYES_ABOVE", default="10000"))
if not WALLETS_FOUR_EYES_ABOVE.is_finite() or WALLETS_FOUR_EYES_ABOVE < 0:
    raise ImproperlyConfigured("WALLETS_FOUR_EYES_ABOVE must be an amount of zero or more.")

# Brute-force lockout of redemption, counted in the database.
REDEEM_ACCOUNT_FAILURES_SHORT = env.int("REDEEM_ACCOUNT_FAILURES_SHORT", default=5)
REDEEM_ACCOUNT_WINDOW_SHORT = env.int("REDEEM_ACCOUNT_WINDOW_SHORT", default=15 * 60)
REDEEM_ACCOUNT_FAILURES_LONG = env.int("REDEEM_ACCOUNT_FAILURES_LONG", default=20)
REDEEM_ACCOUNT_WINDOW_LONG = env.int("REDEEM_ACCOUNT_WINDOW_LONG", default=24 * 3600)
REDEEM_ADDRESS_FAILURES = env.int("REDEEM_ADDRESS_FAILURES", default=30)
REDEEM_ADDRESS_WINDOW = env.int("REDEEM_ADDRESS_WINDOW", default=3600)
# API calls count against their key instead of the gateway's address.
REDEEM_API_KEY_FAILURES = env.int("REDEEM_API_KEY_FAILURES", default=100)
REDEEM_API_KEY_WINDOW = env.int("REDEEM_API_KEY_WINDOW", default=3600)
# Proxies whose X-Forwarded-For is believed; empty: the peer (config/client_address.py).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network."
        ) from None
# Bulk actions (mass edit, delete, ...): selections above this many cards run in the
# background worker; work goes in chunks of this many cards (each chunk's row locks are held
# for well under a second); transient lock failures are retried this many times.
TOPUP_BULK_BACKGROUND_THRESHOLD = env.int("TOPUP_BULK_BACKGROUND_THRESHOLD", default=5000)
TOPUP_BULK_CHUNK_SIZE = env.int("TOPUP_BULK_CHUNK_SIZE", default=5000)
TOPUP_BULK_RETRIES = env.int("TOPUP_BULK_RETRIES", default=4)
# Background work (series, bulk jobs) whose heartbeat is older than this lost its worker: a
# bulk job is queued again until it has been started TOPUP_JOB_MAX_RUNS times, then failed.
TOPUP_JOB_STALE_SECONDS = env.int("TOPUP_JOB_STALE_SECONDS", default=300)
TOPUP_JOB_MAX_RUNS = env.int("TOPUP_JOB_MAX_RUNS", default=3)
# Background work retries a lost connection, a failover or a statement timeout on a new
# connection, with backoff, for this many seconds of waiting; then it stops with the reason
# (config/db_faults.py). Web requests do not wait: they answer 503 with Retry-After.
DB_OUTAGE_RETRY_SECONDS = env.float("DB_OUTAGE_RETRY_SECONDS", default=120)
DB_OUTAGE_RETRY_AFTER = env.int("DB_OUTAGE_RETRY_AFTER", default=5)
# Time limits per kind of work (config/work_role.py), seconds, 0 for none: a web request's
# statement or lock wait fails (503) rather than hold a worker thread; the task worker and
# commands write series and recount the summary, so they get longer ones.
DB_WORK_ROLE = env.str("DB_WORK_ROLE", default="")  # "web" or "worker"; empty: guessed
DB_STATEMENT_TIMEOUT = {
    "web": env.int("DB_STATEMENT_TIMEOUT_WEB", default=30),
    "worker": env.int("DB_STATEMENT_TIMEOUT_WORKER", default=1800),
}
DB_LOCK_TIMEOUT = {
    "web": env.int("DB_LOCK_TIMEOUT_WEB", default=10),
    "worker": env.int("DB_LOCK_TIMEOUT_WORKER", default=60),
}
# A series or card sheet (all or nothing) stopped by an outage starts again this many times.
DB_OUTAGE_RESTARTS = env.int("DB_OUTAGE_RESTARTS", default=3)

# Printing: big sheets by the task worker; a finished sheet kept sealed PRINT_SHEET_TTL seconds.
PRINT_SHEET_BACKGROUND_THRESHOLD = env.int("PRINT_SHEET_BACKGROUND_THRESHOLD", default=480)
PRINT_SHEET_MAX_CARDS = env.int("PRINT_SHEET_MAX_CARDS", default=20_000)
PRINT_SHEET_TTL = env.int("PRINT_SHEET_TTL", default=30 * 60)
# Off: PINs leave the server only encrypted to a registered print shop's OpenPGP key.
EXPORT_PLAINTEXT_ALLOWED = env.bool("EXPORT_PLAINTEXT_ALLOWED", default=True)
# Payment Gateways' address for QR links; empty: that of the request printing the sheet.
TOPUP_PAYMENT_URL = env.str("TOPUP_PAYMENT_URL", default="")

# Webhooks (webhooks/): receivers in these networks are allowed although private (SSRF guard).
WEBHOOKS_ALLOWED_NETWORKS = env.list("WEBHOOKS_ALLOWED_NETWORKS", default=[])
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=8)
WEBHOOKS_BACKOFF_SECONDS = env.int("WEBHOOKS_BACKOFF_SECONDS", default=30)
WEBHOOKS_TIMEOUT = env.int("WEBHOOKS_TIMEOUT", default=10)
# Passphrases webhook secrets are encrypted under; the first encrypts (docs/operations.md).
WEBHOOKS_SECRET_KEYS = _secret("WEBHOOKS_SECRET_KEYS", "demo-only-webhook-secret-key").split(",")

# E-PINs (topup/services/epins.py): how long a replay shows the PIN, and a void is allowed.
EPIN_REPLAY_WINDOW_SECONDS = env.int("EPIN_REPLAY_WINDOW_SECONDS", default=600)
EPIN_VOID_WINDOW_SECONDS = env.int("EPIN_VOID_WINDOW_SECONDS", default=600)
# E-mail (sold e-PINs sent to customers): the console in the demo, SMTP (EMAIL_URL) otherwise.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="top-up@localhost")
