"""The redemptions per hour are kept exact by triggers, and the reports read them."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from tests import factories
from topup import reports, services
from topup.models import Card, RedemptionHour
from topup.services.redemption_hours import (
    redemption_hour_differences,
    redemption_hours_compact,
)


def test_redemptions_edits_and_deletes_keep_the_hours_exact(tree, customer):
    pins = []
    for _ in range(3):
        card, pin = factories.make_card(reseller=tree["north"], amount=Decimal("7.50"))
        pins.append(pin)
    for pin in pins[:2]:
        result = services.card_redeem(account=customer, typed_pin=pin, client_address="10.5.0.1")
        assert result.outcome == "success"
    # An older redemption, moved back by a statement, lands in its own hour.
    first = Card.objects.filter(status="activated").order_by("pk").first()
    Card.objects.filter(pk=first.pk).update(activated_at=timezone.now() - timedelta(days=3))
    assert redemption_hour_differences() == []
    figures = reports.home_figures(tree["operator"])
    assert [(c, n) for c, n, _ in figures.redeemed_today] == [("USD", 1)]
    daily = reports.redemptions_per_day(tree["operator"])
    assert sum(n for _, n, _ in daily["USD"]) == 2
    assert sum(v for _, _, v in daily["USD"]) == Decimal("15.00")

    rows = RedemptionHour.objects.count()
    assert redemption_hours_compact() == rows - RedemptionHour.objects.count()
    assert RedemptionHour.objects.count() == 2  # one row per hour that had a redemption
    assert redemption_hour_differences() == []
    Card.objects.filter(status="activated").delete()
    assert redemption_hour_differences() == []
    assert reports.redemptions_per_day(tree["operator"]) == {}
