from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from billing.models import Transaction
from billing.services import account_credit
from resellers.models import AuditEvent
from tests.factories import AccountFactory, SeriesFactory, make_card
from topup import services
from topup.models import Card

EDIT = reverse("topup:card-mass-edit")
DELETE = reverse("topup:card-delete")


def local(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def deck(tree):
    """Five new cards and one activated in north (series 101), two in south (201)."""
    north = SeriesFactory(code="101", reseller=tree["north"])
    south = SeriesFactory(code="201", reseller=tree["south"], currency="EUR")
    cards = [make_card(series=north, number=f"101-{n:08d}")[0] for n in range(1, 6)]
    account = AccountFactory(reseller=tree["north"])
    activated, _ = make_card(
        series=north,
        number="101-00000006",
        status="activated",
        activated_at=timezone.now(),
        activated_by=account,
    )
    account_credit(
        account=account,
        amount=activated.amount,
        kind=Transaction.Kind.TOPUP_CARD,
        description=f"Top-up card {activated.number}",
        reference=f"topup.card:{activated.pk}",
    )
    foreign = [make_card(series=south, number=f"201-{n:08d}")[0] for n in range(1, 3)]
    return {"north": cards, "activated": activated, "south": foreign, "account": account}


def snapshot():
    return {c.number: (c.expires_at, c.reseller_id, c.status) for c in Card.objects.all()}


def form(**overrides):
    return {
        "expiry_mode": "preserve",
        "reseller_mode": "preserve",
        "status_mode": "preserve",
        **overrides,
    }


@pytest.mark.django_db
def test_the_form_shows_the_count_before_anything_changes(operator_client, deck):
    before = snapshot()
    response = operator_client.get(EDIT, {"series": "101", "apply_to": "search"})
    assert response.status_code == 200
    assert (
        response.context["count"],
        response.context["changeable"],
        response.context["activated"],
    ) == (6, 5, 1)
    page = response.content.decode()
    assert 'data-testid="changeable-count">5<' in page
    assert snapshot() == before


@pytest.mark.django_db
def test_the_count_shown_first_skips_void_cards_as_the_edit_will(operator_client, deck):
    Card.objects.filter(number="101-00000001").update(status="void")
    response = operator_client.get(EDIT, {"series": "101", "apply_to": "search"})
    assert (response.context["changeable"], response.context["activated"]) == (4, 2)
    assert "activated and void cards are never changed" in response.content.decode()
    delete = operator_client.get(reverse("topup:card-delete"), {"series": "101"})
    # Delete keeps activated cards only: a void card can be deleted.
    assert (delete.context["changeable"], delete.context["activated"]) == (5, 1)


@pytest.mark.django_db
def test_preserve_leaves_a_field_while_another_is_set(operator_client, deck, tree):
    before = snapshot()
    query = "?series=101&apply_to=search"
    response = operator_client.post(
        EDIT + query, form(reseller_mode="set", reseller=tree["north_retail"].pk)
    )
    assert response.status_code == 302
    for card in Card.objects.filter(number__in=[c.number for c in deck["north"]]):
        assert card.reseller_id == tree["north_retail"].pk
        assert card.expires_at == before[card.number][0]
        assert card.status == "new"


@pytest.mark.django_db
def test_set_to_changes_exactly_the_ticked_cards(operator_client, deck):
    when = timezone.now().replace(microsecond=0, second=0) + timedelta(days=90)
    before = snapshot()
    ticked = [deck["north"][0].pk, deck["north"][2].pk]
    url = EDIT + "?apply_to=selected&" + "&".join(f"card={pk}" for pk in ticked)
    response = operator_client.post(url, form(expiry_mode="set", expires_at=local(when)))
    assert response.status_code == 302
    after = snapshot()
    changed = {n for n in after if after[n] != before[n]}
    assert changed == {"101-00000001", "101-00000003"}
    assert Card.objects.get(pk=ticked[0]).expires_at == when
    event = AuditEvent.objects.get(action="cards.mass_edited")
    assert event.details["selection"] == {"cards": sorted(ticked)}
    assert event.details["changed"] == 2


@pytest.mark.django_db
def test_activated_cards_are_skipped_and_reported(operator_client, deck):
    before = snapshot()
    response = operator_client.post(
        EDIT + "?series=101&apply_to=search",
        form(expiry_mode="clear", status_mode="block"),
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "5 cards changed. 1 card skipped: activated and void cards are never changed."
    ]
    assert snapshot()["101-00000006"] == before["101-00000006"]
    assert set(
        Card.objects.filter(series__code="101")
        .exclude(status="activated")
        .values_list("status", "expires_at")
    ) == {("blocked", None)}


@pytest.mark.django_db
def test_a_reseller_user_cannot_set_an_owner_outside_its_scope(reseller_client, deck, tree):
    before = snapshot()
    response = reseller_client.post(
        EDIT + "?apply_to=search", form(reseller_mode="set", reseller=tree["south"].pk)
    )
    assert response.status_code == 200
    assert "reseller" in response.context["form"].errors
    assert snapshot() == before
    with pytest.raises(Exception, match="Choose a reseller"):
        services.cards_mass_update(
            user=tree["north_user"], cards=Card.objects.all(),
            edit=services.MassEdit(reseller_mode="set", reseller=tree["root"]), selection={},
        )  # fmt: skip
    assert snapshot() == before


@pytest.mark.django_db
def test_foreign_card_ids_posted_by_hand_are_refused(reseller_client, deck):
    before = snapshot()
    ids = [deck["south"][0].pk, deck["north"][1].pk]
    url = EDIT + "?apply_to=selected&" + "&".join(f"card={pk}" for pk in ids)
    response = reseller_client.post(url, form(status_mode="block"), follow=True)
    assert "not yours to change" in response.content.decode()
    assert snapshot() == before
    url = EDIT + f"?apply_to=selected&card={deck['north'][1].pk}"
    assert reseller_client.post(url, form(status_mode="block")).status_code == 302
    after = snapshot()
    assert {n for n in after if after[n] != before[n]} == {"101-00000002"}


@pytest.mark.django_db
def test_an_expiry_in_the_past_is_allowed_after_a_warning(operator_client, deck):
    past = timezone.now() - timedelta(days=1)
    url = EDIT + "?series=101&apply_to=search"
    warned = operator_client.post(url, form(expiry_mode="set", expires_at=local(past)))
    assert warned.status_code == 200
    assert "in the past" in warned.content.decode()
    assert not Card.objects.filter(expires_at__lt=timezone.now()).exists()
    done = operator_client.post(
        url, form(expiry_mode="set", expires_at=local(past), confirm_past="on")
    )
    assert done.status_code == 302
    assert Card.objects.with_display("expired").count() == 5


@pytest.mark.django_db
def test_bad_input_changes_nothing(operator_client, deck):
    before = snapshot()
    assert (
        operator_client.post(EDIT + "?apply_to=search", form()).status_code == 200
    )  # all preserve
    assert (
        operator_client.post(EDIT + "?apply_to=search", form(expiry_mode="set")).status_code == 200
    )
    assert (
        operator_client.post(EDIT + "?apply_to=search", form(expiry_mode="bogus")).status_code
        == 200
    )
    bad_search = operator_client.post(
        EDIT + "?amount_min=x&apply_to=search", form(status_mode="block")
    )
    assert bad_search.status_code == 302
    nothing_ticked = operator_client.post(EDIT + "?apply_to=selected", form(status_mode="block"))
    assert nothing_ticked.status_code == 302
    junk_ids = operator_client.post(
        EDIT + "?apply_to=selected&card=1;drop", form(status_mode="block")
    )
    assert junk_ids.status_code == 302
    assert snapshot() == before


@pytest.mark.django_db
def test_an_error_half_way_rolls_everything_back(operator_client, deck, monkeypatch):
    before = snapshot()

    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(services.bulk.apply, "audit_cards", broken_audit)
    with pytest.raises(RuntimeError):
        operator_client.post(
            EDIT + "?apply_to=search", form(status_mode="block", expiry_mode="clear")
        )
    assert snapshot() == before


@pytest.mark.django_db
def test_a_reseller_user_cannot_delete(reseller_client, deck):
    assert reseller_client.get(DELETE + "?apply_to=search").status_code == 403
    assert reseller_client.post(DELETE + "?apply_to=search").status_code == 403
    assert Card.objects.count() == 8


@pytest.mark.django_db
def test_delete_all_with_a_search_deletes_only_matching_cards_and_keeps_the_activated(
    operator_client, deck
):
    confirm = operator_client.get(DELETE, {"series": "101", "apply_to": "search"})
    assert (confirm.context["count"], confirm.context["changeable"]) == (6, 5)
    assert 'data-testid="delete-count">5<' in confirm.content.decode()
    assert Card.objects.count() == 8  # the confirmation page deletes nothing
    response = operator_client.post(DELETE + "?series=101&apply_to=search", follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "5 cards deleted. 1 card skipped: activated cards are never deleted."
    ]
    assert set(Card.objects.values_list("number", flat=True)) == {
        "101-00000006",
        "201-00000001",
        "201-00000002",
    }
    row = Transaction.objects.get(kind="topup_card")
    assert row.description == "Top-up card 101-00000006" and row.amount == Decimal("10.00")
    account = deck["account"]
    account.refresh_from_db()
    assert account.balance == Decimal("10.00")
    details = AuditEvent.objects.get(action="cards.deleted").details
    assert (details["changed"], details["skipped"], details["selected"]) == (5, 1, 6)


@pytest.mark.django_db
def test_delete_with_an_empty_search_deletes_every_card_in_scope(operator_client, deck):
    operator_client.post(DELETE + "?apply_to=search")
    assert list(Card.objects.values_list("number", flat=True)) == ["101-00000006"]


@pytest.mark.django_db
def test_blocked_cards_cannot_be_redeemed_and_unblocked_ones_can(operator_client, tree):
    series = SeriesFactory(code="700", reseller=tree["north"])
    card, pin = make_card(series=series, number="700-00000001")
    account = AccountFactory(reseller=tree["north"])
    operator_client.post(EDIT + "?series=700&apply_to=search", form(status_mode="block"))
    refused = services.card_redeem(account=account, typed_pin=pin, client_address="10.0.0.1")
    assert refused.outcome == "failed"
    operator_client.post(EDIT + "?series=700&apply_to=search", form(status_mode="unblock"))
    redeemed = services.card_redeem(account=account, typed_pin=pin, client_address="10.0.0.1")
    assert redeemed.outcome == "success" and redeemed.balance == Decimal("10.00")


@pytest.mark.django_db
def test_mass_edit_locks_each_chunk_in_id_order_as_it_walks_it(
    operator_client, deck, settings, django_assert_max_num_queries
):
    settings.TOPUP_BULK_CHUNK_SIZE = 4
    url = EDIT + "?apply_to=search"
    with django_assert_max_num_queries(20) as captured:
        operator_client.post(url, form(status_mode="block", expiry_mode="clear"))
    sql = [q["sql"] for q in captured.captured_queries]
    walks = [q for q in sql if q.endswith('ORDER BY 1 ASC LIMIT 4 FOR UPDATE OF "topup_card"')]
    writes = [q for q in sql if '"topup_card" SET' in q]
    assert (len(walks), len(writes)) == (3, 2)  # 8 cards in scope, 4 per chunk, then none left
    assert set(Card.objects.exclude(status="activated").values_list("status", flat=True)) == {
        "blocked"
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"reseller_mode": "preserve", "status_mode": "block"},  # expiry_mode missing
        form(expiry_mode="sometimes", status_mode="block"),
        form(reseller_mode="", status_mode="block"),
    ],
)
def test_a_missing_or_invalid_mode_is_named_by_its_field(operator_client, deck, data):
    before = snapshot()
    response = operator_client.post(EDIT + "?series=101&apply_to=search", data)
    assert response.status_code == 200
    page = response.content.decode()
    field = next(
        name for name in ("expiry_mode", "reseller_mode") if name in response.context["form"].errors
    )
    assert f'aria-describedby="id_{field}_error"' in page
    # "Choose “preserve” or “set to”." / "Choose “preserve”, “set to”, or “clear (no expiry)”."
    assert f'id="id_{field}_error"' in page and "Choose “preserve”" in page
    assert snapshot() == before


@pytest.mark.django_db
def test_the_form_and_the_service_refuse_with_the_same_rules_and_words(operator_client, tree, deck):
    """MassEdit.problems is the one validator: the form shows its messages, the service
    raises them, and the service holds the forms' date bounds too."""
    before = snapshot()
    page = operator_client.post(EDIT + "?apply_to=search", form(expiry_mode="set"))
    assert page.context["form"].errors["expires_at"] == [
        "Enter the new expiry date, or choose preserve."
    ]
    assert page.context["form"].non_field_errors() == []
    page = operator_client.post(EDIT + "?apply_to=search", form())
    assert page.context["form"].non_field_errors() == [
        "Nothing to change: every field is set to preserve."
    ]
    far = timezone.now().replace(year=3000)
    cases = [
        ({"expiry_mode": "set"}, "expires_at", "Enter the new expiry date, or choose preserve."),
        ({}, "__all__", "Nothing to change: every field is set to preserve."),
        ({"reseller_mode": "set"}, "reseller", "Choose the new company, or choose preserve."),
        (
            {"expiry_mode": "set", "expires_at": far},
            "expires_at",
            "Enter a date between the years 1900 and 2999.",
        ),
    ]
    for edit, field, message in cases:
        with pytest.raises(ValidationError) as refused:
            services.cards_mass_update(
                user=tree["operator"], cards=Card.objects.all(),
                edit=services.MassEdit(**edit), selection={},
            )  # fmt: skip
        assert refused.value.message_dict == {field: [message]}
    assert snapshot() == before
