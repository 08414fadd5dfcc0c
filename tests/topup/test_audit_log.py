"""The audit log page: the right, the scope (a reseller's subtree only), the search, the CSV."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from billing.models import Account
from billing.services import account_adjust
from resellers.models import AuditEvent
from tests.factories import AccountFactory, generate
from topup import services
from topup.models import Card

LOG = reverse("topup:audit-log")
CSV = reverse("topup:audit-log-csv")


def grant_audit_right(user):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="resellers", codename="view_auditevent")
    )


@pytest.fixture
def events(tree):
    """Series in North (by the operator) and South (by the operator), a North user's release."""
    north = generate(tree["operator"], tree["north"], quantity=3, code="501", in_stock=True)
    south = generate(tree["operator"], tree["south"], quantity=2, code="502", in_stock=True)
    services.cards_release(user=tree["operator"], cards=south.cards.all(), selection={})
    north_account = AccountFactory(reseller=tree["north_retail"])
    account_adjust(
        actor=tree["operator"], account=north_account, direction="credit",
        amount=Decimal("2.00"), note="goodwill",
    )  # fmt: skip
    return {"north": north, "south": south, "account": north_account}


def actions(response) -> list[str]:
    return [row["event"].action for row in response.context["rows"]]


def test_the_operator_sees_every_event_with_readable_names_and_links(operator_client, events):
    response = operator_client.get(LOG)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-label="Action">Series generated</td>' in page
    assert 'data-label="Action">series.generated' not in page
    assert f'href="{reverse("topup:series-detail", args=[events["north"].pk])}">501</a>' in page
    north = reverse("resellers:reseller-detail", args=[events["north"].reseller_id])
    assert f'href="{north}">North</a>' in page
    account = reverse("billing:account-detail", args=[events["account"].pk])
    assert f'href="{account}">{events["account"].name}</a>' in page
    assert set(actions(response)) >= {"series.generated", "cards.released"}


def test_a_reseller_sees_only_events_of_its_subtree(client, tree, events):
    grant_audit_right(tree["north_user"])
    client.force_login(tree["north_user"])
    response = client.get(LOG)
    assert response.status_code == 200
    shown = response.context["rows"]
    series = {row["event"].details.get("series") for row in shown}
    assert events["north"].pk in series
    assert events["south"].pk not in series
    assert "cards.released" not in actions(response)  # South's cards, released by the operator
    accounts = {row["event"].details.get("account") for row in shown}
    assert events["account"].pk in accounts  # an account of North Retail, below North
    csv = b"".join(client.get(CSV).streaming_content).decode()
    assert "502" not in csv and "501" in csv
    # Searching for another reseller's objects finds nothing either.
    assert client.get(LOG, {"series": "502"}).context["rows"] == []


def test_without_the_right_the_page_is_403(client, tree, events):
    client.force_login(tree["north_user"])
    assert client.get(LOG).status_code == 403
    assert client.get(CSV).status_code == 403


def test_the_search_by_action_user_date_series_card_reseller_and_account(
    operator_client, tree, events
):
    assert set(actions(operator_client.get(LOG, {"action": "cards.released"}))) == {
        "cards.released"
    }
    assert actions(operator_client.get(LOG, {"user": "northuser"})) == []
    assert len(actions(operator_client.get(LOG, {"user": "OP"}))) >= 3
    assert actions(operator_client.get(LOG, {"created_after": "2999-01-01"})) == []
    by_series = operator_client.get(LOG, {"series": "502"})
    assert set(actions(by_series)) == {"series.generated"}
    card = Card.objects.filter(series=events["south"]).first()
    assert set(actions(operator_client.get(LOG, {"card": card.number}))) == {"cards.released"}
    by_reseller = operator_client.get(LOG, {"reseller": tree["south"].pk})
    assert set(actions(by_reseller)) == {"series.generated"}
    number = Account.objects.get(pk=events["account"].pk).number
    assert actions(operator_client.get(LOG, {"account": number})) == ["account.balance_adjusted"]


def test_a_search_out_of_bounds_shows_errors_and_no_event(operator_client, events):
    response = operator_client.get(LOG, {"series": "x" * 21, "action": "nope"})
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "The search has errors" in response.content.decode()


def test_the_csv_is_the_filtered_view(operator_client, events):
    response = operator_client.get(CSV, {"action": "series.generated"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "when,action,action code,user,details"
    assert len(lines) == 3
    assert all(",Series generated,series.generated,op," in line for line in lines[1:])


def test_the_nav_shows_the_audit_log_to_those_with_the_right(operator_client, client, tree):
    assert f'href="{LOG}"' in operator_client.get(reverse("topup:series-list")).content.decode()
    client.force_login(tree["north_user"])
    assert f'href="{LOG}"' not in client.get(reverse("topup:series-list")).content.decode()


def test_the_audit_action_names_are_all_labelled():
    assert all(label != value for value, label in AuditEvent.Action.choices)


def test_a_refused_pin_that_matched_no_card_links_no_card(operator_client, customer):
    services.card_redeem(account=customer, typed_pin="0" * 12, client_address="192.0.2.1")
    page = operator_client.get(LOG, {"action": "card.redemption_failed"}).content.decode()
    assert "Redemption failed" in page
    assert 'href="/cards/find/?number="' not in page
