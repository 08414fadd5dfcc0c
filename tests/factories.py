"""Factories chaining reseller -> account and series -> card. No now() at import time."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from billing.models import Account
from resellers.models import Reseller, User
from resellers.scoping import GROUP_CUSTOMERS, GROUP_OPERATORS, GROUP_RESELLER_USERS
from topup import services
from topup.models import Card, Series
from topup.pins import pin_service


class ResellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reseller

    name = factory.Sequence(lambda n: f"Reseller {n}")
    currency = "USD"
    parent = None


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")

    @factory.post_generation
    def group(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))


def operator(reseller, **kwargs) -> User:
    return UserFactory(reseller=reseller, group=GROUP_OPERATORS, is_staff=True, **kwargs)


def reseller_user(reseller, **kwargs) -> User:
    return UserFactory(reseller=reseller, group=GROUP_RESELLER_USERS, **kwargs)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Customer {n}")
    reseller = factory.SubFactory(ResellerFactory)
    currency = factory.LazyAttribute(lambda a: a.reseller.currency)
    user = factory.SubFactory(UserFactory, group=GROUP_CUSTOMERS)


class SeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Series

    code = factory.Sequence(lambda n: f"S{n}")
    amount = Decimal("10.00")
    currency = factory.LazyAttribute(lambda s: s.reseller.currency)
    quantity = 1
    first_number = 1
    pin_length = 12
    reseller = factory.SubFactory(ResellerFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


def make_card(
    *, pin: str | None = None, series: Series | None = None, **fields
) -> tuple[Card, str]:
    """One card with a known PIN (the real digest and cipher); returns (card, pin)."""
    series = series or SeriesFactory(**{k: v for k, v in fields.items() if k in ("reseller",)})
    pin = pin or pin_service.generate(series.pin_length)
    number = fields.pop("number", None) or f"{series.code}-{Card.objects.count() + 1:08d}"
    version, token = pin_service.encrypt(pin, number)
    defaults = {
        "series": series,
        "number": number,
        "reseller": series.reseller,
        "amount": series.amount,
        "currency": series.currency,
        "pin_digest": pin_service.digest(pin),
        "pin_encrypted": token,
        "pin_key_version": version,
        "expires_at": series.expires_at,
        "valid_from": series.valid_from,
    }
    if fields.get("status") == Card.Status.IN_STOCK:
        defaults["released_at"] = None
    defaults.update(fields)
    return Card.objects.create(**defaults), pin


def generate(user, reseller, quantity=5, code="101", background=False, **kwargs) -> Series:
    """A series through the real service (written at once unless `background` says so).

    Released at once unless `in_stock=True` (the service's own default is in stock).
    """
    kwargs.setdefault("in_stock", False)
    request = services.SeriesRequest(
        reseller=reseller,
        amount=kwargs.pop("amount", Decimal("10.00")),
        quantity=quantity,
        code=code,
        **kwargs,
    )
    return services.series_generate(user=user, request=request, background=background)
