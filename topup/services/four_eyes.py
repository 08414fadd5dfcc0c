"""Four eyes: whoever generated a series may not export its PINs or release it, nor sell its
e-PINs through an API key they created (docs/four-eyes.md)."""

from enum import StrEnum

from django.conf import settings
from django.core.exceptions import ValidationError

from ..models import Card


class FourEyes(StrEnum):
    """The actions four eyes guards, each as it completes "another person must ... it"."""

    EXPORT = "export the PINs of"
    PRINT = "print the PINs of"
    RELEASE = "release"
    REVEAL = "reveal the PIN of a card of"
    SELL = "sell the e-PINs of"


# The refusal, said once for every action, page, command and API.
REFUSAL = "Four eyes: you generated series %(code)s, so another person must %(action)s it."


class FourEyesRefused(ValidationError):
    """The user generated a series among the cards and four eyes is on; the message says so."""


def _applies(user) -> bool:
    return bool(settings.TOPUP_FOUR_EYES and user is not None and user.is_authenticated)


def four_eyes_exclude(*, user, cards):
    """`cards` without those of series `user` generated, when four eyes is on: the cards a
    sale through a key `user` created may take (the others are left for another person)."""
    if not _applies(user):
        return cards
    return cards.exclude(series__created_by=user)


def four_eyes_refusal(*, code: str, action: FourEyes) -> FourEyesRefused:
    return FourEyesRefused(REFUSAL % {"code": code, "action": action})


def four_eyes_check(*, user, cards, action: FourEyes) -> None:
    """Refuse when four eyes is on (TOPUP_FOUR_EYES) and `user` generated a series of `cards`.

    `cards` is a queryset (or one Card). Every export, print, reveal and release calls this,
    whatever page, command or API it comes from; the pages call it first to say the refusal
    before the user asks. One indexed semi-join, however many cards are chosen.
    """
    if not _applies(user):
        return
    if isinstance(cards, Card):
        cards = Card.objects.filter(pk=cards.pk)
    own = cards.filter(series__created_by=user).order_by().values_list("series__code", flat=True)
    code = next(iter(own[:1]), None)
    if code is not None:
        raise four_eyes_refusal(code=code, action=action)
