"""Webhook signing secrets at rest: encrypted, never in clear in the database.

Shaped like `django.contrib.auth.tokens`: one small class, a module-level instance. A secret is
stored as a Fernet token (AES-128-CBC with an HMAC-SHA256, from `cryptography`) under a key
derived by HKDF-SHA256 from each passphrase of WEBHOOKS_SECRET_KEYS. The first passphrase
encrypts; every one decrypts, so a new passphrase is put first, `manage.py
rotate_webhook_secrets` re-encrypts every row under it, and then the old one is removed
(docs/operations.md).
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@lru_cache(maxsize=8)
def _fernet(passphrases: tuple[str, ...]) -> MultiFernet:
    def key(passphrase: str) -> bytes:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SecretBox.info).derive(
            passphrase.encode()
        )
        return base64.urlsafe_b64encode(derived)

    return MultiFernet([Fernet(key(p)) for p in passphrases])


class SecretBox:
    info = b"topup webhook signing secret v1"

    @property
    def fernet(self) -> MultiFernet:
        return _fernet(tuple(settings.WEBHOOKS_SECRET_KEYS))

    def encrypt(self, secret: str) -> str:
        return self.fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The secret; cryptography's InvalidToken when no configured key opens it."""
        return self.fernet.decrypt(token.encode()).decode()

    def rotate(self, token: str) -> str:
        """The same secret, encrypted under the first (current) passphrase."""
        return self.fernet.rotate(token.encode()).decode()


secret_box = SecretBox()
