"""Finding 4: client addresses come from trusted proxies only, junk never counts, IPv6 per /64."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from config.client_address import address_key, client_address, lockout_key
from tests.factories import AccountFactory
from topup import services
from topup.models import RedemptionAttempt

GATEWAY = reverse("topup:payment-gateways")


def address_of(remote, forwarded=None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_address(RequestFactory().get("/", REMOTE_ADDR=remote, **headers))


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        # No trusted proxy: the header is ignored, whatever it says.
        ([], "203.0.113.9", "6.6.6.6", "203.0.113.9"),
        # A peer outside TRUSTED_PROXIES is not believed either.
        (["10.0.0.1"], "203.0.113.9", "6.6.6.6", "203.0.113.9"),
        # The proxy's own append is taken; what the client prepended is not.
        (["10.0.0.1"], "10.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        # Two trusted proxies (a network and an address): walk past both.
        (
            ["10.0.0.0/8", "192.0.2.1"],
            "192.0.2.1",
            "1.1.1.1, 198.51.100.7, 10.2.3.4",
            "198.51.100.7",
        ),
        # Junk stops the walk at the last address known to be true.
        (["10.0.0.1"], "10.0.0.1", "junk", "10.0.0.1"),
        (["10.0.0.1"], "10.0.0.1", "' OR 1=1 --", "10.0.0.1"),
        (["10.0.0.1"], "10.0.0.1", "", "10.0.0.1"),
        (["10.0.0.1"], "10.0.0.1", "198.51.100.7, 999.1.1.1", "10.0.0.1"),
        # IPv6 through the proxy; IPv4-mapped IPv6 is the IPv4 address.
        (["::1"], "::1", "2001:db8:1:2::77", "2001:db8:1:2::77"),
        ([], "::ffff:198.51.100.7", None, "198.51.100.7"),
        # Not even the peer is an address (a misconfigured server): a fixed value.
        ([], "not-an-address", "6.6.6.6", "0.0.0.0"),
    ],
)
def test_client_address(settings, proxies, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies
    assert address_of(remote, forwarded) == expected


def test_ipv6_is_counted_per_64_and_lockout_keys_round_trip():
    assert address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("198.51.100.7") == "198.51.100.7"
    assert lockout_key("2001:db8:1:2::/64") == "2001:db8:1:2::/64"
    assert lockout_key("2001:db8:1:2::5") == "2001:db8:1:2::/64"
    assert lockout_key("198.51.100.7") == "198.51.100.7"
    for bad in ["nope", "10.0.0.0/8", "2001:db8::/48", ""]:
        assert lockout_key(bad) is None


@pytest.mark.django_db
@pytest.mark.parametrize("forwarded", ["junk", "1.2.3.4.5", "::g", "\u00b2", "a" * 5000])
def test_junk_forwarded_header_is_recorded_under_the_peer_never_a_500(
    customer_client, customer, settings, forwarded
):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    response = customer_client.post(
        GATEWAY, {"pin": "000000000001"}, HTTP_X_FORWARDED_FOR=forwarded
    )
    assert response.status_code == 200
    assert RedemptionAttempt.objects.get().client_address == "127.0.0.1"


@pytest.mark.django_db
def test_a_spoofed_header_from_an_untrusted_peer_does_not_escape_the_address_limit(
    customer_client, customer, settings
):
    """Reaching the app directly and inventing an address per request gains nothing."""
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    settings.REDEEM_ACCOUNT_FAILURES_SHORT = 1000
    settings.REDEEM_ACCOUNT_FAILURES_LONG = 1000
    settings.REDEEM_ADDRESS_FAILURES = 3
    statuses = [
        customer_client.post(
            GATEWAY, {"pin": f"9999{i:08d}"}, HTTP_X_FORWARDED_FOR=f"6.6.6.{i}"
        ).status_code
        for i in range(6)
    ]
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert set(RedemptionAttempt.objects.values_list("client_address", flat=True)) == {"127.0.0.1"}


@pytest.mark.django_db
def test_ipv6_clients_rotating_within_their_64_share_one_limit(tree, settings):
    settings.REDEEM_ADDRESS_FAILURES = 3
    accounts = [AccountFactory(reseller=tree["north"]) for _ in range(5)]
    outcomes = [
        services.card_redeem(
            account=account, typed_pin="000011112222", client_address=f"2001:db8:5:6::{i + 1:x}"
        ).outcome
        for i, account in enumerate(accounts)
    ]
    assert outcomes == ["failed", "failed", "failed", "locked", "locked"]
    # Another /64 is another client; the log keeps every full address.
    other = services.card_redeem(
        account=accounts[0], typed_pin="000011112222", client_address="2001:db8:5:7::1"
    )
    assert other.outcome == "failed"
    assert RedemptionAttempt.objects.filter(client_address="2001:db8:5:6::2").exists()
    assert set(RedemptionAttempt.objects.values_list("client_network", flat=True)) == {
        "2001:db8:5:6::/64",
        "2001:db8:5:7::/64",
    }


@pytest.mark.django_db
def test_an_ipv6_lockout_is_shown_and_lifted_per_64(operator_client, tree, settings):
    settings.REDEEM_ADDRESS_FAILURES = 2
    accounts = [AccountFactory(reseller=tree["north"]) for _ in range(3)]
    for i, account in enumerate(accounts[:2]):
        services.card_redeem(
            account=account, typed_pin="000011112222", client_address=f"2001:db8:9::{i + 1}"
        )
    page = operator_client.get(reverse("topup:attempt-list"))
    assert [lock.address for lock in page.context["lockouts"]] == ["2001:db8:9::/64"]
    response = operator_client.post(reverse("topup:lockout-lift"), {"address": "2001:db8:9::/64"})
    assert response.status_code == 302
    outcome = services.card_redeem(
        account=accounts[2], typed_pin="000011112222", client_address="2001:db8:9::ff"
    ).outcome
    assert outcome == "failed"


@pytest.mark.django_db
def test_the_migration_fills_the_same_lockout_keys_as_the_app_in_one_statement(tree):
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("topup.migrations.0008_attempt_client_network")
    account = AccountFactory(reseller=tree["north"])
    addresses = ["10.1.2.3", "2001:db8:0:1:abcd::5", "::ffff:1.2.3.4", "fe80::1", "2001:db8::"]
    for address in addresses:
        RedemptionAttempt.objects.create(
            account=account, client_address=address, outcome="failed", client_network=""
        )
    with connection.schema_editor() as editor:
        migration.fill_networks(apps, editor)
    filled = dict(RedemptionAttempt.objects.values_list("client_address", "client_network"))
    assert filled == {address: address_key(address) for address in addresses}
