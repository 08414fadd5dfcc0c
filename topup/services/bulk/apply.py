"""Applying a bulk action: one transaction for a small selection, a job for a large one."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from resellers.scoping import reseller_ids_visible_to
from wallets.services import WalletShort

from ...models import audit_cards
from ..jobs import bulk_job_start
from ..notify import cards_changed
from .actions import BulkAction, BulkResult, Delete, MassEdit
from .chunks import ChunkStatement, check_money, with_retries


def cards_mass_update(
    *, user, cards, edit: MassEdit, selection: dict, background: bool | None = None
) -> BulkResult:
    """Apply `edit` to the cards (a queryset) in the user's scope; see `cards_bulk_apply`."""
    return cards_bulk_apply(
        user=user, action=edit, cards=cards, selection=selection, background=background
    )


def cards_delete(*, user, cards, selection: dict, background: bool | None = None) -> BulkResult:
    """Delete the cards (a queryset) in the user's scope, activated ones excepted; operators only.

    The ledger keeps activated cards' transactions whole: they hold the card number and amount
    in their own columns and do not point at the card.
    """
    return cards_bulk_apply(
        user=user, action=Delete(), cards=cards, selection=selection, background=background
    )


def cards_bulk_apply(
    *, user, action: BulkAction, cards, selection: dict, background: bool | None = None
) -> BulkResult:
    """Apply a bulk action to the cards (a queryset) in the user's scope.

    Checks the action's right (PermissionDenied) and parameters (ValidationError). Up to
    TOPUP_BULK_BACKGROUND_THRESHOLD cards (or `background=False`): one transaction, all or
    nothing, with one audit event holding the selection, the changes and the counts (none
    when no card changed). Larger
    selections (or `background=True`): a BulkJob is created for the task worker and the
    result carries it, with no counts yet (see topup/services/jobs.py). The job replays
    `selection` ({"search": query string} or {"cards": ids}, as `cards_for_selection` reads
    it), so it must describe `cards`.
    Raises BulkBusy when retries are exhausted; then nothing was changed.
    """
    if not user.has_perm(action.right):
        raise PermissionDenied
    action.validate(user=user)
    cards = cards.visible_to(user)
    action.check(user=user, cards=cards)
    scope = reseller_ids_visible_to(user)
    check_money(action, cards, scope)
    if background is None:
        threshold = settings.TOPUP_BULK_BACKGROUND_THRESHOLD
        background = cards.order_by()[: threshold + 1].count() > threshold
    if background:
        return BulkResult(job=bulk_job_start(user=user, action=action, selection=selection))
    try:
        return with_retries(lambda: _apply_in_one_transaction(user, action, cards, selection))
    except WalletShort:
        # Spent meanwhile: nothing changed; say what the whole selection lacks now.
        check_money(action, cards, scope)
        raise


def _apply_in_one_transaction(user, action, cards, selection) -> BulkResult:
    statement = ChunkStatement(action, reseller_ids_visible_to(user), user=user)
    changed = selected = 0
    with transaction.atomic():
        statement.start_transaction()
        last_id = 0
        while (chunk := statement.next(cards, after=last_id)).ids:
            changed += chunk.changed
            selected += len(chunk.ids)
            last_id = chunk.ids[-1]
        if changed:  # an action that changed no card did nothing worth recording
            audit_cards(
                action.audit_action,
                runs=statement.runs,
                actor=user,
                selection=selection,
                changes=action.describe(),
                selected=selected,
                changed=changed,
                skipped=selected - changed,
            )
            cards_changed(action, runs=statement.runs)
    return BulkResult(changed=changed, skipped=selected - changed)
