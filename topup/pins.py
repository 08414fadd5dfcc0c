"""The PIN service: the only code that sees a raw PIN.

Shaped like `django.contrib.auth.tokens`: one small class with its parameters as attributes,
a module-level instance, and seams (`randbelow`) for tests.

- PINs are digits drawn uniformly from 0 .. 10**length - 1 with `secrets`, leading zeros kept.
- Lookup uses HMAC-SHA256 under PIN_HMAC_KEY (not SECRET_KEY): a database dump alone cannot
  be turned back into PINs, not even by trying every 12-digit number.
- The printable copy is AES-256-GCM under a versioned key (PIN_ENCRYPTION_KEYS); the version
  is stored per card so keys can be rotated. The card number is bound as associated data, so
  an encrypted PIN copied onto another card does not decrypt.
"""

import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import cached_property


class InvalidPin(ValueError):
    pass


class PinService:
    min_length = 8
    default_length = 12
    max_length = 20
    nonce_size = 12
    randbelow = staticmethod(secrets.randbelow)

    def __init__(self, hmac_key: str | None = None, encryption_keys: str | None = None):
        self._hmac_key = hmac_key
        self._encryption_keys = encryption_keys

    # --- keys ---------------------------------------------------------------------------
    @cached_property
    def digest_key(self) -> bytes:
        key = self._hmac_key or settings.PIN_HMAC_KEY
        return hashlib.sha256(b"topup.pin.digest:" + key.encode()).digest()

    @cached_property
    def ciphers(self) -> dict[int, AESGCM]:
        """Version -> cipher. Each key is stretched to 256 bits with SHA-256."""
        raw = self._encryption_keys or settings.PIN_ENCRYPTION_KEYS
        ciphers = {}
        for item in raw.split(","):
            version, sep, key = item.strip().partition(":")
            if not sep or not version.isdigit() or not key:
                raise ImproperlyConfigured("PIN_ENCRYPTION_KEYS is a list of version:key pairs.")
            material = hashlib.sha256(b"topup.pin.cipher:" + key.encode()).digest()
            ciphers[int(version)] = AESGCM(material)
        return ciphers

    @property
    def current_version(self) -> int:
        return max(self.ciphers)

    # --- PINs ---------------------------------------------------------------------------
    def check_length(self, length: int) -> int:
        if not self.min_length <= length <= self.max_length:
            raise InvalidPin(
                f"PIN length must be from {self.min_length} to {self.max_length} digits."
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
            raise InvalidPin("A PIN is made of digits.")
        return pin

    def digest(self, pin: str) -> str:
        return hmac.new(self.digest_key, pin.encode(), hashlib.sha256).hexdigest()

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
