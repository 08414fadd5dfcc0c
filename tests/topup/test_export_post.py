"""Finding 9: an export is recorded only by a POST with its CSRF token; nothing selected, no row."""

import pytest
from django.test import Client
from django.urls import reverse

from resellers.models import AuditEvent
from tests.factories import SeriesFactory, make_card
from topup.models import Card

EXPORT = reverse("topup:card-export")


@pytest.fixture
def north_cards(tree):
    series = SeriesFactory(code="777", reseller=tree["north"])
    return [make_card(series=series, number=f"777-{n:08d}")[0] for n in range(1, 4)]


@pytest.mark.django_db
def test_a_get_of_the_export_exports_nothing_and_records_nothing(operator_client, north_cards):
    response = operator_client.get(EXPORT, {"apply_to": "search", "series": "777"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response.context["count"] == 3
    assert not AuditEvent.objects.filter(action="cards.exported").exists()


@pytest.mark.django_db
def test_an_export_post_without_the_csrf_token_is_refused(tree, north_cards):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tree["operator"])
    response = browser.post(f"{EXPORT}?apply_to=search")
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="cards.exported").exists()
    # The confirmation page's own form carries the token and exports.
    page = browser.get(f"{EXPORT}?apply_to=search")
    token = page.context["csrf_token"]
    response = browser.post(f"{EXPORT}?apply_to=search", {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert len(b"".join(response.streaming_content).splitlines()) == 4
    assert AuditEvent.objects.get(action="cards.exported").details["count"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("topup:card-export", {}),
        ("topup:card-delete", {}),
        ("topup:card-mass-edit", {"expiry_mode": "clear", "reseller_mode": "preserve",
                                  "status_mode": "preserve"}),
    ],
)  # fmt: skip
def test_a_bulk_action_selecting_no_card_writes_no_audit_row(
    operator_client, north_cards, name, data
):
    url = f"{reverse(name)}?apply_to=search&series=no-such-series"
    response = operator_client.post(url, data)
    assert response.status_code in (200, 302)
    if response.streaming:
        assert len(b"".join(response.streaming_content).splitlines()) == 1  # the header only
    assert AuditEvent.objects.count() == 0
    assert Card.objects.count() == 3
