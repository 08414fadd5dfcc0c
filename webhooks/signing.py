"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

Shaped like `django.contrib.auth.tokens`: one small class, a module-level instance, a seam for
randomness. A secret is `whsec_<base64 of 24 random bytes>`; a delivery carries `webhook-id`,
`webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`.
"""

import base64
import hashlib
import hmac
import secrets


class WebhookSigner:
    prefix = "whsec_"
    secret_bytes = 24
    token_bytes = staticmethod(secrets.token_bytes)

    def make_secret(self) -> str:
        return self.prefix + base64.b64encode(self.token_bytes(self.secret_bytes)).decode()

    def _key(self, secret: str) -> bytes:
        return base64.b64decode(secret.removeprefix(self.prefix))

    def sign(self, *, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
        signed = f"{message_id}.{timestamp}.".encode() + body
        digest = hmac.new(self._key(secret), signed, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()

    def headers(self, *, secret: str, message_id: str, timestamp: int, body: bytes) -> dict:
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.sign(
                secret=secret, message_id=message_id, timestamp=timestamp, body=body
            ),
        }

    def verify(
        self, *, secret: str, message_id: str, timestamp: int, body: bytes, signature: str
    ) -> bool:
        """Whether one of the space-separated `v1,` signatures is this body's."""
        expected = self.sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
        return any(hmac.compare_digest(expected, sig) for sig in signature.split())


webhook_signer = WebhookSigner()
