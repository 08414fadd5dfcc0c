"""Pages written for people: chips for the search, plurals, the zone named, currencies."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from locales.formats import local_datetime
from tests.factories import SeriesFactory, make_card
from topup import services
from topup.models import Card

LIST = reverse("topup:card-list")
EDIT = reverse("topup:card-mass-edit")


@pytest.fixture
def usd_cards(tree):
    series = SeriesFactory(code="101", reseller=tree["north"], currency="USD")
    return [make_card(series=series, number=f"101-{n:08d}")[0] for n in range(1, 4)]


@pytest.mark.django_db
def test_the_active_search_shows_as_chips_that_remove_one_condition(
    operator_client, usd_cards, tree
):
    response = operator_client.get(
        LIST, {"series": "101", "status": "new", "reseller": tree["north"].pk}
    )
    chips = response.context["search_chips"]
    assert [(c["label"], c["value"]) for c in chips] == [
        ("Series code", "101"), ("Status", "New"), ("Reseller (and sub-resellers)", "North"),
    ]  # fmt: skip
    assert chips[0]["without"] == f"status=new&reseller={tree['north'].pk}"
    page = response.content.decode()
    assert 'aria-label="Active search"' in page and "data-fold-narrow" in page
    assert "Delete all</a>" in page


@pytest.mark.django_db
def test_one_card_is_not_all_1_cards(operator_client, usd_cards):
    page = operator_client.get(LIST, {"number": "101-00000001"}).content.decode()
    assert "The 1 card of this search" in page and "All 1 cards" not in page


@pytest.mark.django_db
def test_times_are_shown_in_the_site_zone_and_the_zone_is_named(
    operator_client, usd_cards, settings
):
    settings.TIME_ZONE = "Europe/Paris"
    Card.objects.update(created_at=datetime(2026, 11, 25, 13, 3, tzinfo=UTC))
    page = operator_client.get(LIST).content.decode()
    with timezone.override("Europe/Paris"):
        shown = local_datetime(datetime(2026, 11, 25, 13, 3, tzinfo=UTC))
    assert shown in page and "(Europe/Paris)" in shown
    form = operator_client.get(reverse("topup:series-generate")).context["form"]
    assert "Time zone: Europe/Paris (CET)." in form["expires_at"].help_text


@pytest.mark.django_db
def test_the_currency_is_a_list_with_the_resellers_currency_preselected(operator_client, tree):
    response = operator_client.get(reverse("topup:series-generate"))
    form = response.context["form"]
    assert form["currency"].initial == "USD"
    assert ("EUR", "EUR — Euro") in form.fields["currency"].choices
    assert "XAU" not in dict(form.fields["currency"].choices)  # gold is not money here
    page = response.content.decode()
    assert f'value="{tree["south"].pk}" data-currency="EUR"' in page


@pytest.mark.django_db
def test_moving_cards_to_a_company_of_another_currency_is_refused_saying_why(
    operator_client, usd_cards, tree
):
    before = list(Card.objects.values_list("pk", "reseller_id"))
    response = operator_client.post(
        EDIT + "?series=101&apply_to=search",
        {"expiry_mode": "preserve", "reseller_mode": "set", "reseller": tree["south"].pk,
         "status_mode": "preserve"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors["reseller"] == [
        "South works in EUR, but 3 cards of this selection are in USD: its customers could "
        "never redeem them. Choose a company that works in USD, or narrow the selection to "
        "EUR cards."
    ]
    assert list(Card.objects.values_list("pk", "reseller_id")) == before
    # The rule is the service's: every caller gets it.
    edit = services.MassEdit(reseller_mode="set", reseller=tree["south"])
    with pytest.raises(ValidationError, match="South works in EUR"):
        services.cards_mass_update(
            user=tree["operator"], cards=Card.objects.all(), edit=edit, selection={"cards": []}
        )
    # A company of the same currency is fine.
    edit = services.MassEdit(reseller_mode="set", reseller=tree["north_retail"])
    result = services.cards_mass_update(
        user=tree["operator"], cards=Card.objects.all(), edit=edit, selection={"search": ""}
    )
    assert result.changed == 3
    assert set(Card.objects.values_list("reseller_id", flat=True)) == {tree["north_retail"].pk}


@pytest.mark.django_db
def test_expired_times_keep_their_zone_on_the_series_page(operator_client, tree, settings):
    settings.TIME_ZONE = "America/New_York"
    series = SeriesFactory(reseller=tree["north"], expires_at=timezone.now() + timedelta(days=200))
    page = operator_client.get(reverse("topup:series-detail", args=[series.pk])).content.decode()
    with timezone.override("America/New_York"):
        shown = local_datetime(series.expires_at)
    assert shown in page and "(America/New_York)" in shown
