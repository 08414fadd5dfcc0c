"""Deploy checks (`manage.py check --deploy`) of the PIN keys."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .pins import HKDF_PREFIX, parse_versioned_keys

MIN_LENGTH = 32
PLACEHOLDERS = ("change-me", "changeme", "demo-only", "test-only", "placeholder", "xxxxxxxx")


def _weakness(secret: str) -> str:
    if len(secret) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    if any(word in secret.lower() for word in PLACEHOLDERS):
        return "a placeholder"
    if len(set(secret)) < 16:
        return "too repetitive"
    return ""


@checks.register(checks.Tags.security, deploy=True)
def check_pin_keys(app_configs=None, **kwargs):
    """PIN keys must be long random secrets, distinct from each other and from SECRET_KEY."""
    found = []
    keys = {"PIN_HMAC_KEY": settings.PIN_HMAC_KEY}
    if previous := getattr(settings, "PIN_HMAC_KEY_PREVIOUS", ""):
        keys["PIN_HMAC_KEY_PREVIOUS"] = previous
    try:
        versions = parse_versioned_keys(settings.PIN_ENCRYPTION_KEYS)
    except ImproperlyConfigured as exc:
        versions = {}
        found.append(checks.Error(str(exc), id="topup.E001"))
    keys |= {f"PIN_ENCRYPTION_KEYS version {v}": key for v, key in versions.items()}
    secrets = {name: spec.removeprefix(HKDF_PREFIX) for name, spec in keys.items()}
    for name, secret in secrets.items():
        if problem := _weakness(secret):
            found.append(
                checks.Error(
                    f"{name} is {problem}.",
                    hint="Use a long random secret, e.g. "
                    "python3 -c 'import secrets; print(\"hkdf:\" + secrets.token_urlsafe(48))'",
                    id="topup.E002",
                )
            )
    values = list(secrets.values())
    if len(set(values)) != len(values) or settings.SECRET_KEY in values:
        found.append(
            checks.Error(
                "The PIN keys must differ from each other and from SECRET_KEY.", id="topup.E003"
            )
        )
    newest = versions[max(versions)] if versions else HKDF_PREFIX
    if not (settings.PIN_HMAC_KEY.startswith(HKDF_PREFIX) and newest.startswith(HKDF_PREFIX)):
        found.append(
            checks.Warning(
                "A PIN key uses the first key derivation (a SHA-256 stretch), not HKDF.",
                hint="Add keys written as hkdf:SECRET and run manage.py rotate_pin_keys "
                "(docs/operations.md, Keys).",
                id="topup.W001",
            )
        )
    return found
