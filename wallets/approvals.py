"""Four eyes on wallet money: a top-up or adjustment above `WALLETS_FOUR_EYES_ABOVE` waits
for a second person.

The panel's four-eyes switch (`TOPUP_FOUR_EYES`) turns it on, as it does for the cards' export
and release; the amount above which it applies is `WALLETS_FOUR_EYES_ABOVE` (in the wallet's
currency). Whoever asked may not approve; the approver must be allowed to post to that wallet
(`wallets.services` checks it again when it posts). Approving posts the entry through
`wallets.services` and records it on the request in the same transaction; a request is
decided once (its row is locked and must still be pending).
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from resellers.models import AuditEvent, Reseller, audit

from . import services
from .access import may_manage
from .models import Wallet, WalletEntry, WalletRequest

# The refusal, said once for the page and the service.
REFUSAL = gettext_lazy("Four eyes: you asked for this, so another person must approve it.")


def four_eyes_above() -> Decimal | None:
    """The amount above which a second person approves; None when four eyes is off."""
    if not settings.TOPUP_FOUR_EYES:
        return None
    return settings.WALLETS_FOUR_EYES_ABOVE


@dataclass(frozen=True)
class MoneyOutcome:
    entry: WalletEntry | None = None  # posted now
    request: WalletRequest | None = None  # waiting for a second person

    @property
    def pending(self) -> bool:
        return self.request is not None


def _post(wallet: Wallet, kind: str, amount: Decimal, note: str, by) -> WalletEntry:
    if kind == WalletEntry.Kind.TOPUP:
        return services.wallet_topup(wallet=wallet, amount=amount, note=note, by=by)
    return services.wallet_adjust(wallet=wallet, amount=amount, note=note, by=by)


def _check_kind(kind: str, amount: Decimal) -> None:
    if kind not in (WalletEntry.Kind.TOPUP, WalletEntry.Kind.ADJUSTMENT):
        raise ValidationError({"kind": _("Choose a top-up or an adjustment.")})
    if kind == WalletEntry.Kind.TOPUP and amount < 0:
        raise ValidationError({"direction": _("A top-up adds money: choose an adjustment.")})


def wallet_money_request(
    *, actor, wallet: Wallet, kind: str, amount: Decimal, note: str
) -> MoneyOutcome:
    """Post a top-up or an adjustment now, or, above the four-eyes amount, keep it for a
    second person (audited). The same checks as posting apply before anything is kept."""
    _check_kind(kind, amount)
    limit = four_eyes_above()
    if limit is None or abs(amount) <= limit:
        return MoneyOutcome(entry=_post(wallet, kind, amount, note, actor))
    if not (actor.has_perm("wallets.post_wallet") and may_manage(actor, wallet.reseller)):
        raise PermissionDenied
    if not note.strip():
        raise ValidationError({"note": _("Write a note: it is shown on the statement.")})
    with transaction.atomic():
        request = WalletRequest.objects.create(
            wallet=wallet, kind=kind, amount=amount, note=note.strip()[:255], created_by=actor
        )
        audit(
            AuditEvent.Action.WALLET_REQUESTED,
            actor=actor,
            reseller=wallet.reseller_id,
            request=request.pk,
            kind=kind,
            amount=str(amount),
            note=request.note,
        )
    return MoneyOutcome(request=request)


def requests_visible_to(user):
    """Requests on wallets the user may manage: below its own company, in its subtree."""
    below = Reseller.objects.visible_to(user).exclude(pk=user.reseller_id)
    return WalletRequest.objects.filter(wallet__reseller__in=below).select_related(
        "wallet__reseller", "created_by", "decided_by"
    )


def pending_for(reseller: Reseller) -> list[WalletRequest]:
    return list(
        WalletRequest.objects.filter(
            wallet__reseller=reseller, state=WalletRequest.State.PENDING
        ).select_related("created_by")
    )


def _locked_pending(request: WalletRequest) -> WalletRequest:
    locked = WalletRequest.objects.select_for_update().select_related("wallet__reseller")
    locked = locked.get(pk=request.pk)
    if locked.state != WalletRequest.State.PENDING:
        raise ValidationError(_("This request was already decided."))
    return locked


def wallet_request_approve(*, actor, request: WalletRequest) -> WalletEntry:
    """Post the request's money (as `actor`, through `wallets.services`) and mark it approved,
    in one transaction. Refused to whoever asked (four eyes), and when it is no longer
    pending; a debit the wallet cannot take is refused (WalletShort) and stays pending."""
    with transaction.atomic():
        request = _locked_pending(request)
        if request.created_by_id == actor.pk:
            raise ValidationError(REFUSAL)
        entry = _post(request.wallet, request.kind, request.amount, request.note, actor)
        request.state, request.entry = WalletRequest.State.APPROVED, entry
        request.decided_by, request.decided_at = actor, timezone.now()
        request.save(update_fields=["state", "entry", "decided_by", "decided_at"])
    return entry


def wallet_request_reject(*, actor, request: WalletRequest) -> None:
    """Close the request without moving money; anyone who may post to the wallet (the one
    who asked included: withdrawing one's own request needs no second person)."""
    if not (actor.has_perm("wallets.post_wallet") and may_manage(actor, request.wallet.reseller)):
        raise PermissionDenied
    with transaction.atomic():
        request = _locked_pending(request)
        request.state = WalletRequest.State.REJECTED
        request.decided_by, request.decided_at = actor, timezone.now()
        request.save(update_fields=["state", "decided_by", "decided_at"])
        audit(
            AuditEvent.Action.WALLET_REQUEST_REJECTED,
            actor=actor,
            reseller=request.wallet.reseller_id,
            request=request.pk,
            amount=str(request.amount),
        )
