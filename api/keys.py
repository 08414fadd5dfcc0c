"""API key tokens: what a gateway sends as `Authorization: Bearer <token>`.

Shaped like `django.contrib.auth.tokens`: one small class, its parameters as attributes, a
module-level instance, a seam for randomness in tests.

A token is `tk_<public id>_<secret>`. The public id finds the key (and names it in logs and
lists); the secret is 256 random bits, shown once and stored only as its SHA-256 digest. A
slow password hash would add nothing against a secret that cannot be guessed, and it would
cost every API call milliseconds; a database dump alone still yields no usable token.
"""

import hashlib
import hmac
import secrets


class ApiKeyTokens:
    prefix = "tk"
    public_id_bytes = 6  # 12 hex digits
    secret_bytes = 32
    max_length = 128
    token_hex = staticmethod(secrets.token_hex)
    token_urlsafe = staticmethod(secrets.token_urlsafe)

    def make(self) -> tuple[str, str, str]:
        """(public id, secret digest, token): a fresh key; the token is shown once."""
        public_id = self.token_hex(self.public_id_bytes)
        secret = self.token_urlsafe(self.secret_bytes)
        return public_id, self.digest(secret), f"{self.prefix}_{public_id}_{secret}"

    def parse(self, token: str) -> tuple[str, str] | None:
        """(public id, secret) of a well-formed token, else None."""
        if not token or len(token) > self.max_length or not token.isascii():
            return None
        prefix, _, rest = token.partition("_")
        public_id, _, secret = rest.partition("_")
        if prefix != self.prefix or len(public_id) != 2 * self.public_id_bytes or not secret:
            return None
        return public_id, secret

    @staticmethod
    def digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def check(self, secret: str, digest: str) -> bool:
        return hmac.compare_digest(self.digest(secret), digest)


api_key_tokens = ApiKeyTokens()
