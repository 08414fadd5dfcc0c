"""The API under a database outage (issue 24): its JSON error body with 503, never 500; a
redemption cut off mid-way is answered "unconfirmed" and logged so."""

import pytest
from django.db import OperationalError

from config.outage_views import UNCONFIRMED
from topup.models import RedemptionAttempt
from topup.services.redemption import statement

from .conftest import redeem

pytestmark = pytest.mark.django_db


def test_a_redemption_cut_off_by_a_lost_connection_is_unconfirmed_and_logged(
    client, north_key, account, card, monkeypatch
):
    _, token = north_key
    card, pin = card
    real = statement.credit

    def lost(redemption, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(statement, "credit", lost)
    client.raise_request_exception = False
    response = redeem(client, token, account.number, pin, "k-outage")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json() == {"status": "unconfirmed", "message": UNCONFIRMED}
    attempt = RedemptionAttempt.objects.get(account=account)
    assert (attempt.outcome, attempt.reason) == ("unknown", "unconfirmed")
    assert attempt.get_outcome_display() == "Not confirmed (connection lost)"
    # The gateway retries with the same key once the database is back: credited once.
    monkeypatch.setattr(statement, "credit", real)
    assert redeem(client, token, account.number, pin, "k-outage").status_code == 201
    assert redeem(client, token, account.number, pin, "k-again").json()["status"] == (
        "already_credited"
    )
    account.refresh_from_db()
    assert account.transactions.filter(reference=f"topup.card:{card.pk}").count() == 1
