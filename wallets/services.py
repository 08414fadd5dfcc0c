"""Every change of a wallet's balance: the one home of the postings.

Guarantees, for every function here: the wallet's row is locked (`select_for_update`) before
its balance is read; the balance moves by an in-database `F()` update and exactly one
`WalletEntry` records each move, in the caller's transaction (or its own), so the balance is
always the sum of the entries. A debit that can be refused (a release or a move to a prepaid
reseller, an adjustment) is refused when it would take the balance below minus the credit
limit: `WalletShort`, which names the amount missing, and nothing is written. Money is Decimal,
rounded to the wallet's currency by `wallets.pricing` only.

Who posts what (docs/architecture.md, "Reseller money"):
- top-up (credit) and adjustment (either way) by a user of a company above the reseller;
- release to a prepaid reseller: a debit at its price; a move of released cards: a credit to
  the prepaid owner they leave, a debit to the prepaid owner they reach; void and delete of
  released, unredeemed cards: a credit to their prepaid owner (all through the bulk engine,
  `wallet_cards_post`, one entry per wallet, kind and chunk);
- redemption of a consignment reseller's card: a debit at its price, written by the
  redemption's own statement (`topup.services.redemption.statement`, with `PRICE_SQL`);
- a change of billing mode or price reprices the stock the reseller holds (released, not
  redeemed, not void): the difference is posted, so a prepaid wallet has always paid for its
  stock at its current prices, and a credit back is exactly what the card cost.
"""

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from locales.formats import money
from resellers.models import AuditEvent, Reseller, audit
from resellers.services import require_right, require_scope

from .access import check_may_manage
from .cards import CardMove, wallet_cards_check, wallet_cards_post
from .models import SeriesDiscount, Wallet, WalletEntry
from .posting import ZERO, WalletShort, lock_wallets, post, refuse_short
from .pricing import PriceList, below_cost_problem, minor_digits, quantum
from .stock import paid_stock

__all__ = [  # the card postings live in `cards`, the one posting in `posting`
    "CardMove", "WalletShort", "series_discount_set", "stock_value", "wallet_adjust",
    "wallet_cards_check", "wallet_cards_post", "wallet_configure", "wallet_of", "wallet_topup",
]  # fmt: skip
MAX_MONEY = Decimal("1000000000")


# --- Reading ---------------------------------------------------------------------------------


def wallet_of(*, reseller: Reseller) -> Wallet:
    """The reseller's wallet, or an unsaved one with the defaults (not billed until saved)."""
    wallet = Wallet.objects.filter(reseller=reseller).first()
    if wallet is None:
        # By id: assigning the reseller would cache this unsaved wallet on it as `.wallet`.
        wallet = Wallet(
            reseller_id=reseller.pk,
            currency=reseller.currency,
            digits=minor_digits(reseller.currency),
        )
    return wallet


def stock_value(wallet: Wallet) -> Decimal:
    """What the released, unredeemed cards the reseller holds cost at its prices now."""
    return PriceList.of(wallet).total(paid_stock(wallet.reseller_id, wallet.currency))


# --- Money in and out ------------------------------------------------------------------------


def _money_in(wallet: Wallet, amount, field="amount") -> Decimal:
    if not isinstance(amount, Decimal):
        raise TypeError("Money is Decimal, never float.")
    if amount <= 0 or amount > MAX_MONEY or amount != amount.quantize(quantum(wallet.digits)):
        raise ValidationError(
            {
                field: _(
                    "Enter an amount greater than zero and at most %(max)s, with at most "
                    "%(digits)s decimals for %(currency)s."
                )
                % {"max": money(MAX_MONEY, wallet.currency), "digits": wallet.digits,
                   "currency": wallet.currency}
            }
        )  # fmt: skip
    return amount


def _require_manager(actor, reseller: Reseller, right: str) -> None:
    """A user of a company above the reseller, holding `right`: a parent sets its children's
    prices and takes their money, never its own; the operator's company has no wallet."""
    require_right(actor, right)
    require_scope(actor, reseller)
    check_may_manage(actor, reseller)


def _saved_wallet(reseller: Reseller) -> Wallet:
    """The reseller's wallet, locked; ValidationError when it has none yet."""
    wallets = lock_wallets(reseller=reseller)
    if not wallets:
        raise ValidationError(_("%(reseller)s has no wallet yet: set its billing first.")
                              % {"reseller": reseller})  # fmt: skip
    return wallets[0]


def wallet_topup(*, wallet: Wallet, amount: Decimal, note: str, by) -> WalletEntry:
    """Money received from the reseller: a credit with a note; audited."""
    return _money_entry(wallet, amount, note, by, WalletEntry.Kind.TOPUP)


def wallet_adjust(*, wallet: Wallet, amount: Decimal, note: str, by) -> WalletEntry:
    """A correction either way (`amount` signed) with a note; a debit below minus the credit
    limit is refused (WalletShort, nothing written); audited."""
    return _money_entry(wallet, amount, note, by, WalletEntry.Kind.ADJUSTMENT)


def _money_entry(wallet, amount, note, by, kind) -> WalletEntry:
    _require_manager(by, wallet.reseller, "wallets.post_wallet")
    debit = kind == WalletEntry.Kind.ADJUSTMENT and isinstance(amount, Decimal) and amount < 0
    _money_in(wallet, -amount if debit else amount)
    if not note.strip():
        raise ValidationError({"note": _("Write a note: it is shown on the statement.")})
    with transaction.atomic():
        locked = _saved_wallet(wallet.reseller)
        if debit:
            refuse_short(locked, -amount)
        entry = post(
            locked, amount, kind=kind, reference=f"{kind}:{uuid.uuid4().hex}", note=note.strip(),
            by=by,
        )  # fmt: skip
        audit(
            AuditEvent.Action.WALLET_TOPPED_UP
            if kind == WalletEntry.Kind.TOPUP
            else AuditEvent.Action.WALLET_ADJUSTED,
            actor=by,
            reseller=wallet.reseller_id,
            entry=entry.pk,
            amount=str(amount),
            balance_after=str(entry.balance_after),
            note=entry.note,
        )
    wallet.balance = locked.balance
    return entry


# --- Billing and prices ----------------------------------------------------------------------


def _reprice(wallet: Wallet, before: PriceList | None, *, by, note: str) -> None:
    """Post the difference between what the stock cost under `before` (None: not charged)
    and what it costs now (nothing unless prepaid), the wallet locked and saved."""
    after = PriceList.of(wallet) if wallet.prepaid else None
    if before is None and after is None:
        return
    groups = paid_stock(wallet.reseller_id, wallet.currency)
    delta = (before.total(groups) if before else ZERO) - (after.total(groups) if after else ZERO)
    if delta:
        post(
            wallet, delta, kind=WalletEntry.Kind.REPRICE, by=by, note=note,
            cards=sum(group.count for group in groups),
            reference=f"reprice:{uuid.uuid4().hex}",
        )  # fmt: skip


def _parent_wallet(reseller: Reseller) -> Wallet | None:
    return Wallet.objects.filter(reseller_id=reseller.parent_id).first()


def wallet_configure(
    *,
    actor,
    reseller: Reseller,
    billing_mode: str,
    discount: Decimal,
    credit_limit: Decimal,
    may_sell_below_cost: bool = False,
) -> Wallet:
    """Open or change a reseller's wallet (billing mode, discount, limit, the below-cost flag).

    The discount stays within the parent's own (`pricing.below_cost_problem`). A change of mode
    or discount reprices the stock the reseller holds (a `reprice` entry); audited.
    """
    _require_manager(actor, reseller, "wallets.manage_wallet")
    errors = {}
    if billing_mode not in Wallet.BillingMode.values:
        errors["billing_mode"] = _("Choose prepaid or consignment.")
    if (
        not isinstance(discount, Decimal)
        or not 0 <= discount <= 100
        or discount != round(discount, 2)
    ):
        errors["discount"] = _("Enter a discount from 0 to 100 %, with at most 2 decimals.")
    elif problem := below_cost_problem(
        reseller=reseller, discount=discount, parent_wallet=_parent_wallet(reseller)
    ):
        errors["discount"] = problem
    wallet = wallet_of(reseller=reseller)
    if (
        not isinstance(credit_limit, Decimal)
        or not 0 <= credit_limit <= MAX_MONEY
        or credit_limit != credit_limit.quantize(quantum(wallet.digits))
    ):
        errors["credit_limit"] = _(
            "Enter a credit limit from zero to %(max)s, with at most %(digits)s decimals."
        ) % {"max": money(MAX_MONEY, wallet.currency), "digits": wallet.digits}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if wallet.pk is None:
            wallet.save()
        wallet = lock_wallets(pk=wallet.pk)[0]
        before = PriceList.of(wallet) if wallet.prepaid else None
        wallet.billing_mode, wallet.discount = billing_mode, discount
        wallet.credit_limit, wallet.may_sell_below_cost = credit_limit, may_sell_below_cost
        wallet.save(
            update_fields=["billing_mode", "discount", "credit_limit", "may_sell_below_cost"]
        )
        _reprice(wallet, before, by=actor, note=_("Billing or discount changed"))
        audit(
            AuditEvent.Action.WALLET_CONFIGURED,
            actor=actor,
            reseller=reseller.pk,
            billing_mode=billing_mode,
            discount=str(discount),
            credit_limit=str(credit_limit),
            may_sell_below_cost=may_sell_below_cost,
        )
    return wallet


def series_discount_set(*, actor, reseller: Reseller, series, discount: Decimal | None) -> None:
    """Set (or, with None, remove) the reseller's discount on one series; bounded by the
    parent's price on that series; reprices the stock; audited."""
    _require_manager(actor, reseller, "wallets.manage_wallet")
    if discount is not None:
        if not isinstance(discount, Decimal) or not 0 <= discount <= 100:
            raise ValidationError({"discount": _("Enter a discount from 0 to 100 %.")})
        if problem := below_cost_problem(
            reseller=reseller, discount=discount, series=series,
            parent_wallet=_parent_wallet(reseller),
        ):  # fmt: skip
            raise ValidationError({"discount": problem})
    with transaction.atomic():
        wallet = _saved_wallet(reseller)
        before = PriceList.of(wallet) if wallet.prepaid else None
        if discount is None:
            SeriesDiscount.objects.filter(reseller=reseller, series=series).delete()
        else:
            SeriesDiscount.objects.update_or_create(
                reseller=reseller, series=series, defaults={"discount": discount}
            )
        _reprice(wallet, before, by=actor, note=_("Series discount changed"))
        audit(
            AuditEvent.Action.WALLET_SERIES_DISCOUNT,
            actor=actor,
            reseller=reseller.pk,
            series=series.pk,
            discount=None if discount is None else str(discount),
        )
