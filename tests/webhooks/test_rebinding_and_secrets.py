"""The SSRF guard's address is the one connected to (no DNS rebinding); secrets at rest."""

import datetime
import io
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from webhooks import ssrf, transport
from webhooks.models import Subscription
from webhooks.secret_box import secret_box
from webhooks.services import subscription_create
from webhooks.transport import http_post


class Rebinding:
    """A resolver that answers the allowed loopback first and a private address after."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.lookups = []

    def __call__(self, host, port, **kwargs):
        self.lookups.append(host)
        address = self.answers[min(len(self.lookups), len(self.answers)) - 1]
        return [(2, 1, 6, "", (address, port))]


@pytest.fixture
def server():
    """A receiver on 127.0.0.1 that records each request's Host header (and TLS name)."""
    seen = {"hosts": [], "sni": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["hosts"].append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    yield httpd, seen, thread
    httpd.shutdown()
    httpd.server_close()


def _certificate(tmp_path, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_a_name_that_rebinds_after_the_check_is_connected_at_the_checked_address(
    server, monkeypatch
):
    httpd, seen, thread = server
    thread.start()
    stub = Rebinding("127.0.0.1", "169.254.169.254")
    monkeypatch.setattr(ssrf.resolver, "getaddrinfo", stub)
    url = f"http://receiver.test:{httpd.server_port}/hooks"
    assert http_post(url, b"{}", {}) == 204
    # One lookup for the check and the connection; the request names the host, not the IP.
    assert stub.lookups == ["receiver.test"]
    assert seen["hosts"] == [f"receiver.test:{httpd.server_port}"]
    # The next delivery looks up again and is refused: the name now points inside.
    with pytest.raises(ValidationError, match="private, loopback or link-local"):
        http_post(url, b"{}", {})
    assert len(seen["hosts"]) == 1


def test_a_private_answer_among_several_is_refused_before_any_connection(server, monkeypatch):
    httpd, seen, thread = server
    thread.start()

    def several(host, port, **kwargs):
        return [(2, 1, 6, "", ("127.0.0.1", port)), (2, 1, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(ssrf.resolver, "getaddrinfo", several)
    with pytest.raises(ValidationError):
        http_post(f"http://receiver.test:{httpd.server_port}/hooks", b"{}", {})
    assert seen["hosts"] == []


def test_https_is_verified_and_named_for_the_host_not_the_address(server, monkeypatch, tmp_path):
    httpd, seen, thread = server
    cert, key = _certificate(tmp_path, "receiver.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread.start()
    monkeypatch.setattr(ssrf.resolver, "getaddrinfo", Rebinding("127.0.0.1"))
    trusted = staticmethod(lambda: ssl.create_default_context(cafile=str(cert)))
    monkeypatch.setattr(transport._PinnedHTTPSConnection, "context_factory", trusted)
    assert http_post(f"https://receiver.test:{httpd.server_port}/hooks", b"{}", {}) == 204
    assert seen["sni"] == ["receiver.test"]
    # A certificate for another name fails verification: the delivery is a failed try.
    other, _ = _certificate(tmp_path, "other.test")
    untrusted = staticmethod(lambda: ssl.create_default_context(cafile=str(other)))
    monkeypatch.setattr(transport._PinnedHTTPSConnection, "context_factory", untrusted)
    with pytest.raises(ssl.SSLCertVerificationError):
        http_post(f"https://receiver.test:{httpd.server_port}/hooks", b"{}", {})
    assert len(seen["hosts"]) == 1


@pytest.mark.django_db
def test_the_secret_is_stored_encrypted_and_rotates_to_a_new_key(tree, receiver, settings):
    sub, secret = subscription_create(
        user=tree["operator"], reseller=tree["north"], url=receiver.url, events=["card.redeemed"]
    )
    stored = Subscription.objects.values_list("secret_encrypted", flat=True).get(pk=sub.pk)
    assert secret.startswith("whsec_") and secret not in stored
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM webhooks_subscription")
        assert secret not in repr(cursor.fetchall())
    assert Subscription.objects.get(pk=sub.pk).secret == secret
    # Rotation: a new passphrase first, every row re-encrypted, the old one removed.
    settings.WEBHOOKS_SECRET_KEYS = ["a-new-webhook-passphrase", *settings.WEBHOOKS_SECRET_KEYS]
    out = io.StringIO()
    call_command("rotate_webhook_secrets", stdout=out)
    assert out.getvalue().startswith("1 webhook secrets")
    settings.WEBHOOKS_SECRET_KEYS = ["a-new-webhook-passphrase"]
    assert Subscription.objects.get(pk=sub.pk).secret == secret


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_the_secrets_of_existing_subscriptions(tree):
    before = [("webhooks", "0002_operator_rights")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        OldSubscription = executor.loader.project_state(before).apps.get_model(
            "webhooks", "Subscription"
        )
        OldSubscription.objects.create(
            reseller_id=tree["north"].pk,
            url="https://example.com/hooks",
            events=["card.redeemed"],
            secret="whsec_b2xkIHNlY3JldCBpbiBjbGVhciEh",
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    sub = Subscription.objects.get(url="https://example.com/hooks")
    assert "whsec_" not in sub.secret_encrypted
    assert sub.secret == "whsec_b2xkIHNlY3JldCBpbiBjbGVhciEh"
    assert secret_box.decrypt(sub.secret_encrypted) == sub.secret
