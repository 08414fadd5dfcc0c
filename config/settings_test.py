"""Settings for the test suite: production settings with test-only keys."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("PIN_HMAC_KEY", "test-only-pin-hmac-key")
os.environ.setdefault("PIN_ENCRYPTION_KEYS", "1:test-only-old-key,2:test-only-current-key")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("TASKS_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")
# The webhook tests run their receiver on this machine.
os.environ.setdefault(
    "WEBHOOKS_SECRET_KEYS", "INuTdvBBI6gTwshlW5ZN-H3BaA7SO8BC86sUCJW1CHHONS6S"
)  # random, passes check --deploy
os.environ.setdefault("WEBHOOKS_ALLOWED_NETWORKS", "127.0.0.1/32")
# Most tests have one operator who generates and exports; the four-eyes tests turn it on.
os.environ.setdefault("TOPUP_FOUR_EYES", "false")
# Two-factor sign-in is off for the suite (tests force_login); its own tests turn it on.
os.environ.setdefault("OTP_REQUIRED_FOR_CARD_SECRETS", "false")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Static files come straight from the app's folders (the live-server browser tests need them).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# A second alias on the same test database, for the replica routing tests; routing itself is
# off (REPLICA_READS) unless a test turns it on.
if "replica" not in DATABASES:  # noqa: F405
    DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
