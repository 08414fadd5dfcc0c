"""Deploy checks (`manage.py check --deploy`) of the PIN keys.

A key is judged by the randomness it can carry: its length times the bits per character of
the alphabet it is written in (hex, base64url, or printable text), less the characters a
guesser gets for free (runs, repeated blocks, sequences like "abcd", dictionary words). A key
made by `openssl rand -hex 32`, `secrets.token_hex(32)` or `secrets.token_urlsafe(32)` carries
128 bits or more and passes; a 32-digit hex key is exactly 128 bits and passes too. The
estimate never credits randomness it cannot see: lowercase text (a phrase) counts as text,
about 2 bits a character, not as 26 random letters.
"""

import math
import string

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .pins import HKDF_PREFIX, parse_versioned_keys

MIN_LENGTH = 32
MIN_BITS = 128
PLACEHOLDERS = ("change-me", "changeme", "demo-only", "test-only", "placeholder", "xxxxxxxx")
# Words people type into a "secret"; none is made of hex letters alone, so a random hex key
# never matches one by chance and loses no credit.
WORDS = (
    "password", "passwd", "secret", "letmein", "qwerty", "admin", "default", "example",
    "sample", "django", "topup", "insecure", "production", "private", "master", "welcome",
    "monkey", "dragon", "sunshine", "princess", "football", "baseball", "iloveyou", "trustno",
    "shadow", "superman", "batman", "hello", "login", "token", "cipher", "encryption", "signing",
)  # fmt: skip
# A stretch a guesser predicts (the same character, a repeated block, a +1 sequence) costs
# nothing only from this length on: a random key has such a stretch about once in 10^7.
PREDICTABLE_RUN = 8
HEX = frozenset(string.hexdigits)
TEXT = frozenset(string.ascii_lowercase + " -")  # a phrase, not a random string
PUNCTUATION = frozenset(".,;:'!?")
TEXT_BITS = 2.0  # English carries about 1.3 bits a letter (Shannon); 2 is generous


def alphabet_size(secret: str) -> int:
    """The size of the alphabet the secret is written in: 16 for hex (one case), else the
    union of the classes it uses (digits, lower, upper, "-_", other printable)."""
    if set(secret) <= HEX and not (set(secret) & set("abcdef") and set(secret) & set("ABCDEF")):
        return 16
    size = 0
    classes = (string.digits, string.ascii_lowercase, string.ascii_uppercase, "-_")
    for chars in classes:
        if set(secret) & set(chars):
            size += len(chars)
    if set(secret) - set().union(*map(set, classes)):
        size = max(size, 0) + 30  # the rest of printable ASCII
    return size


def _predictable(secret: str) -> set[int]:
    """Positions a guesser predicts from what came before: inside a stretch of at least
    PREDICTABLE_RUN characters that repeats an earlier block (any period) or steps by a
    constant (abcd, 1357), or inside a dictionary word."""
    free: set[int] = set()
    n = len(secret)
    codes = [ord(c) for c in secret]
    periods = range(1, n // 2 + 1)
    predictors = [lambda i, p=p: i >= p and codes[i] == codes[i - p] for p in periods]
    predictors.append(lambda i: i >= 2 and codes[i] - codes[i - 1] == codes[i - 1] - codes[i - 2])
    for predicted in predictors:
        start = None
        for i in range(n + 1):
            if i < n and predicted(i):
                start = i if start is None else start
                continue
            # A stretch is the predicted characters plus the ones that seeded them.
            if start is not None and i - start + 1 >= PREDICTABLE_RUN:
                free.update(range(start, i))
            start = None
    lowered = secret.lower()
    for word in WORDS:
        at = lowered.find(word)
        while at >= 0:
            free.update(range(at, at + len(word)))
            at = lowered.find(word, at + 1)
    return free


def estimated_bits(secret: str) -> float:
    """A lower estimate of the secret's entropy in bits (see the module docstring)."""
    if not secret:
        return 0.0
    counted = len(secret) - len(_predictable(secret))
    if set(secret) <= TEXT or (" " in secret and set(secret.lower()) <= TEXT | PUNCTUATION):
        return counted * TEXT_BITS
    return counted * math.log2(alphabet_size(secret))


def key_weakness(spec: str) -> str:
    """Why a key (written bare or as hkdf:SECRET) is weak, or "" when it is not."""
    secret = spec.removeprefix(HKDF_PREFIX)
    if len(secret) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    if any(word in secret.lower() for word in PLACEHOLDERS):
        return "a placeholder"
    if (bits := estimated_bits(secret)) < MIN_BITS:
        return f"too predictable (about {bits:.0f} bits of randomness; {MIN_BITS} needed)"
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
        if problem := key_weakness(secret):
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


@checks.register(checks.Tags.security, deploy=True)
def check_webhook_keys(app_configs=None, **kwargs):
    """The passphrases webhook secrets are encrypted under: long random secrets (the same
    rule as the PIN keys), none equal to SECRET_KEY or a PIN key."""
    found = []
    passphrases = getattr(settings, "WEBHOOKS_SECRET_KEYS", [])
    for position, passphrase in enumerate(passphrases, start=1):
        if problem := key_weakness(passphrase):
            found.append(
                checks.Error(
                    f"WEBHOOKS_SECRET_KEYS passphrase {position} is {problem}.",
                    hint="Use a long random secret, e.g. "
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'",
                    id="topup.E004",
                )
            )
    others = {settings.SECRET_KEY, settings.PIN_HMAC_KEY.removeprefix(HKDF_PREFIX)}
    if others & set(passphrases):
        found.append(
            checks.Error(
                "WEBHOOKS_SECRET_KEYS must differ from SECRET_KEY and the PIN keys.",
                id="topup.E005",
            )
        )
    return found
