"""The PIN service: the only code that sees a raw PIN.

Shaped like `django.contrib.auth.tokens`: one small class with its parameters as attributes,
a module-level instance, and seams (`randbelow`) for tests.

- PINs are digits drawn uniformly from 0 .. 10**length - 1 with `secrets`, leading zeros kept.
- Lookup uses HMAC-SHA256 under PIN_HMAC_KEY (not SECRET_KEY): a database dump alone cannot
  be turned back into PINs, not even by trying every 12-digit number. During a rotation of
  that key, PIN_HMAC_KEY_PREVIOUS still finds the cards not yet moved.
- Keys are derived from the settings with HKDF-SHA256 when written "hkdf:SECRET"; a bare
  secret keeps the first derivation, so cards made under it stay readable until
  `manage.py rotate_pin_keys` has moved them.
- The printable copy is AES-256-GCM under a versioned key (PIN_ENCRYPTION_KEYS); the version
  is stored per card so keys can be rotated. The card number is bound as associated data, so
  an encrypted PIN copied onto another card does not decrypt.
"""

import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import cached_property
from django.utils.translation import gettext

HKDF_PREFIX = "hkdf:"


class InvalidPin(ValueError):
    pass


def parse_versioned_keys(raw: str) -> dict[int, str]:
    """PIN_ENCRYPTION_KEYS ("1:key,2:hkdf:key") as {version: key setting}."""
    keys = {}
    for item in raw.split(","):
        version, sep, key = item.strip().partition(":")
        if not sep or not version.isdigit() or not key:
            raise ImproperlyConfigured("PIN_ENCRYPTION_KEYS is a list of version:key pairs.")
        keys[int(version)] = key
    return keys


class PinService:
    min_length = 8
    default_length = 12
    max_length = 20
    nonce_size = 12
    randbelow = staticmethod(secrets.randbelow)

    def __init__(
        self,
        hmac_key: str | None = None,
        encryption_keys: str | None = None,
        previous_hmac_key: str | None = None,
    ):
        self._hmac_key = hmac_key
        self._encryption_keys = encryption_keys
        self._previous_hmac_key = previous_hmac_key

    def forget_keys(self) -> None:
        """Drop the derived keys (when the settings change, as in tests)."""
        for name in ("digest_keys", "ciphers"):
            self.__dict__.pop(name, None)

    # --- keys ---------------------------------------------------------------------------
    # A key setting names its derivation: "hkdf:SECRET" is HKDF-SHA256; a bare SECRET is the
    # first scheme (SHA-256 of a label and the secret), kept so cards made under it still
    # read. `manage.py rotate_pin_keys` moves every card to the newest keys.
    @staticmethod
    def derive(spec: str, purpose: str) -> bytes:
        """256 bits of key material for `purpose` ("digest", "cipher") from a key setting."""
        label = f"topup.pin.{purpose}".encode()
        if spec.startswith(HKDF_PREFIX):
            secret = spec.removeprefix(HKDF_PREFIX).encode()
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret)
        return hashlib.sha256(label + b":" + spec.encode()).digest()

    @cached_property
    def digest_keys(self) -> list[bytes]:
        """The current digest key, then the previous one while a rotation is under way."""
        current = self._hmac_key or settings.PIN_HMAC_KEY
        previous = self._previous_hmac_key
        if previous is None and not self._hmac_key:
            previous = settings.PIN_HMAC_KEY_PREVIOUS
        return [self.derive(key, "digest") for key in (current, previous) if key]

    @property
    def digest_key(self) -> bytes:
        return self.digest_keys[0]

    @cached_property
    def ciphers(self) -> dict[int, AESGCM]:
        """Version -> cipher, each key derived as its setting names."""
        return {
            version: AESGCM(self.derive(key, "cipher"))
            for version, key in parse_versioned_keys(
                self._encryption_keys or settings.PIN_ENCRYPTION_KEYS
            ).items()
        }

    @property
    def current_version(self) -> int:
        return max(self.ciphers)

    # --- PINs ---------------------------------------------------------------------------
    def check_length(self, length: int) -> int:
        if not self.min_length <= length <= self.max_length:
            raise InvalidPin(
                gettext("PIN length must be from %(least)s to %(most)s digits.")
                % {"least": self.min_length, "most": self.max_length}
            )
        return length

    def generate(self, length: int) -> str:
        """A uniformly random PIN of exactly `length` digits."""
        return str(self.randbelow(10**length)).zfill(length)

    @staticmethod
    def normalise(typed: str) -> str:
        """What a person typed, without spaces and dashes; raises InvalidPin if not digits."""
        pin = "".join(typed.split()).replace("-", "")
        if not pin.isascii() or not pin.isdigit():
            raise InvalidPin(gettext("A PIN is made of digits."))
        return pin

    def digest(self, pin: str) -> str:
        """The lookup digest under the current PIN_HMAC_KEY."""
        return hmac.new(self.digest_key, pin.encode(), hashlib.sha256).hexdigest()

    def digests(self, pin: str) -> list[str]:
        """The digests under the current key and, during a rotation, the previous one."""
        return [hmac.new(key, pin.encode(), hashlib.sha256).hexdigest() for key in self.digest_keys]

    def encrypt(self, pin: str, number: str) -> tuple[int, bytes]:
        return self.seal(pin.encode(), number)

    def decrypt(self, token: bytes, version: int, number: str) -> str:
        return self.unseal(token, version, number).decode()

    def seal(self, data: bytes, context: str) -> tuple[int, bytes]:
        """AES-GCM under the current key, bound to `context` (a card number, a sheet id)."""
        version = self.current_version
        nonce = os.urandom(self.nonce_size)
        return version, nonce + self.ciphers[version].encrypt(nonce, data, context.encode())

    def unseal(self, token: bytes, version: int, context: str) -> bytes:
        token = bytes(token)
        nonce, ciphertext = token[: self.nonce_size], token[self.nonce_size :]
        return self.ciphers[version].decrypt(nonce, ciphertext, context.encode())


pin_service = PinService()


@receiver(setting_changed)
def _keys_changed(*, setting, **kwargs):
    if setting.startswith("PIN_"):
        pin_service.forget_keys()
