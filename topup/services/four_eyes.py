"""Four eyes: whoever generated a series may not export its PINs or release it."""

from django.conf import settings
from django.core.exceptions import ValidationError

from ..models import Card


class FourEyesRefused(ValidationError):
    """The user generated a series among the cards and four eyes is on; the message says so."""


def four_eyes_check(*, user, cards, action: str) -> None:
    """Refuse when four eyes is on (TOPUP_FOUR_EYES) and `user` generated a series of `cards`.

    `cards` is a queryset (or one Card); `action` completes "another person must ... it", e.g.
    "export the PINs of" or "release". Every export, reveal and release calls this, whatever
    page, command or API it comes from. One indexed semi-join, however many cards are chosen.
    """
    if not settings.TOPUP_FOUR_EYES or user is None or not user.is_authenticated:
        return
    if isinstance(cards, Card):
        cards = Card.objects.filter(pk=cards.pk)
    own = cards.filter(series__created_by=user).order_by().values_list("series__code", flat=True)
    code = next(iter(own[:1]), None)
    if code is not None:
        raise FourEyesRefused(
            f"Four eyes: you generated series {code}, so another person must {action} it."
        )
