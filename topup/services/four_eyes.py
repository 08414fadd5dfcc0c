"""Four eyes: whoever generated a series may not export its PINs or release it."""

from enum import StrEnum

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..models import Card


class FourEyes(StrEnum):
    """The actions four eyes guards (the values are stable English names, never shown: each
    action's refusal is a whole sentence of REFUSALS)."""

    EXPORT = "export the PINs of"
    PRINT = "print the PINs of"
    RELEASE = "release"
    REVEAL = "reveal the PIN of a card of"
    SELL = "sell the e-PINs of"


# The refusals, said once for every action, page, command and API.
REFUSALS = {
    FourEyes.EXPORT: _(
        "Four eyes: you generated series %(code)s, so another person must export the PINs of it."
    ),
    FourEyes.PRINT: _(
        "Four eyes: you generated series %(code)s, so another person must print the PINs of it."
    ),
    FourEyes.RELEASE: _(
        "Four eyes: you generated series %(code)s, so another person must release it."
    ),
    FourEyes.REVEAL: _(
        "Four eyes: you generated series %(code)s, so another person must reveal the PIN of a "
        "card of it."
    ),
    FourEyes.SELL: _(
        "Four eyes: you generated series %(code)s, so another person must sell the e-PINs of "
        "it through an API key."
    ),
}


class FourEyesRefused(ValidationError):
    """The user generated a series among the cards and four eyes is on; the message says so."""


def four_eyes_exclude(*, user, cards):
    """`cards` without those of series `user` generated, when four eyes is on: the cards a
    sale through an API key `user` created may take (the rest is left for another person's
    key; docs/four-eyes.md). The same rule as `four_eyes_check`, as a filter."""
    if not settings.TOPUP_FOUR_EYES or user is None or not user.is_authenticated:
        return cards
    return cards.exclude(series__created_by=user)


def four_eyes_check(*, user, cards, action: FourEyes) -> None:
    """Refuse when four eyes is on (TOPUP_FOUR_EYES) and `user` generated a series of `cards`.

    `cards` is a queryset (or one Card). Every export, print, reveal and release calls this,
    whatever page, command or API it comes from; the pages call it first to say the refusal
    before the user asks. One indexed semi-join, however many cards are chosen.
    """
    if not settings.TOPUP_FOUR_EYES or user is None or not user.is_authenticated:
        return
    if isinstance(cards, Card):
        cards = Card.objects.filter(pk=cards.pk)
    own = cards.filter(series__created_by=user).order_by().values_list("series__code", flat=True)
    code = next(iter(own[:1]), None)
    if code is not None:
        raise FourEyesRefused(REFUSALS[action], code="four_eyes", params={"code": code})
