"""Moving every card to the newest PIN keys, so that an old key can be removed."""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from ..models import Card
from ..pins import pin_service


@dataclass(frozen=True)
class RotationResult:
    moved: int
    remaining: int


def cards_to_rotate():
    """Cards whose encrypted PIN is not under the newest encryption key."""
    return Card.objects.exclude(pin_key_version=pin_service.current_version)


def pin_keys_rotate(
    *, batch_size: int = 2000, progress: Callable[[int], None] | None = None
) -> RotationResult:
    """Re-encrypt every card under the newest PIN_ENCRYPTION_KEYS version, and re-digest it
    under the current PIN_HMAC_KEY, in batches of `batch_size` cards, each its own transaction.

    A card's key version records that it was moved, so the work is resumable: stopped at any
    point and run again, it goes on with the cards still under an older version. While a
    PIN_HMAC_KEY_PREVIOUS is set, redemption finds a PIN by either digest, so customers can
    redeem throughout. Each batch locks its cards (FOR UPDATE), so a redemption of one of them
    waits a moment, then sees the new digest.
    """
    if pin_service.digest_keys[1:] and not cards_to_rotate().exists():
        raise ImproperlyConfigured(
            "PIN_HMAC_KEY_PREVIOUS is set but every card is under the newest encryption key: "
            "add a new PIN_ENCRYPTION_KEYS version with the new digest key, so that each "
            "card's version records that it was re-digested."
        )
    moved = 0
    last_id = 0
    while True:
        with transaction.atomic():
            batch = list(
                cards_to_rotate()
                .filter(pk__gt=last_id)
                .order_by("pk")
                .select_for_update()
                .only("pk", "number", "pin_digest", "pin_encrypted", "pin_key_version")[:batch_size]
            )
            if not batch:
                break
            for card in batch:
                _move(card)
            Card.objects.bulk_update(batch, ["pin_digest", "pin_encrypted", "pin_key_version"])
        moved += len(batch)
        last_id = batch[-1].pk
        if progress:
            progress(moved)
    return RotationResult(moved=moved, remaining=cards_to_rotate().count())


@sensitive_variables("pin")
def _move(card: Card) -> None:
    pin = pin_service.decrypt(card.pin_encrypted, card.pin_key_version, card.number)
    card.pin_key_version, card.pin_encrypted = pin_service.encrypt(pin, card.number)
    card.pin_digest = pin_service.digest(pin)
