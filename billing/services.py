from decimal import Decimal

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from locales.formats import money
from resellers.currencies import is_iso_currency
from resellers.models import Reseller, User, audit
from resellers.scoping import GROUP_CUSTOMERS
from resellers.services import login_create, require_right, require_scope

from .models import Account, Transaction, as_money


class InsufficientFunds(ValidationError):
    pass


def _money(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal):
        raise TypeError("Money is Decimal, never float.")
    if amount.as_tuple().exponent < -2:
        raise ValidationError(_("Amounts have at most 2 decimals."))
    return amount


def account_post(
    *,
    account: Account,
    amount: Decimal,
    kind: str,
    description: str,
    reference: str = "",
    user=None,
) -> Transaction:
    """Change an account's balance by `amount` (signed) and write its ledger row.

    Guarantees: the balance moves by one conditional in-database update (the row stays locked
    until commit, so concurrent postings serialise) and exactly one ledger row records it,
    atomically. A debit larger than the balance raises InsufficientFunds and changes nothing
    (the enclosing transaction stays usable); a reference already used raises IntegrityError.
    No savepoints: a posting is one statement. (A card's redemption writes the same two rows
    inside its own statement, `topup.services.redemption.statement`.)
    """
    amount = _money(amount)
    if amount == 0:
        raise ValidationError(_("An amount of zero changes nothing."))
    row = _post_in_one_statement(
        account_id=account.pk,
        amount=amount,
        kind=kind,
        description=description,
        reference=reference,
        user_id=user.pk if user is not None else None,
    )
    if row is None:
        raise InsufficientFunds(_("The balance cannot go below zero."))
    pk, balance_after, created_at = row
    account.balance = as_money(balance_after)
    posting = Transaction(
        pk=pk,
        account=account,
        amount=amount,
        balance_after=account.balance,
        kind=kind,
        description=description,
        reference=reference,
        created_by=user,
        created_at=created_at,
    )
    posting._state.adding = False
    posting._state.db = connection.alias
    return posting


def _post_in_one_statement(*, account_id, amount, kind, description, reference, user_id):
    """The balance moved in the database (a debit only while the balance covers it; the row
    stays locked until commit) and the ledger row written, in one statement; (id,
    balance_after, created_at) of the row, or None when a debit found too little."""
    account = Account._meta.db_table
    ledger = Transaction._meta.db_table
    sql = f"""
    WITH source (account_id, amount, kind, description, reference, created_by_id) AS (
        VALUES (%s::bigint, %s::numeric, %s::varchar, %s::varchar, %s::varchar, %s::bigint)
    ),
    moved AS (
        UPDATE {account} AS a SET balance = a.balance + s.amount
        FROM source AS s
        WHERE a.id = s.account_id AND (s.amount > 0 OR a.balance >= -s.amount)
        RETURNING a.id AS account_id, a.balance AS balance_after, s.amount, s.kind,
            s.description, s.reference, s.created_by_id
    ),
    posted AS (
        INSERT INTO {ledger} (account_id, amount, balance_after, kind, description,
            reference, created_by_id, created_at)
        SELECT account_id, amount, balance_after, kind, description, reference,
            created_by_id, STATEMENT_TIMESTAMP()
        FROM moved
        RETURNING id, balance_after, created_at
    )
    SELECT id, balance_after, created_at FROM posted"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [account_id, amount, kind, description, reference, user_id])
        return cursor.fetchone()


def account_credit(*, account: Account, amount: Decimal, **kwargs) -> Transaction:
    """Add a positive amount; see `account_post`."""
    if _money(amount) <= 0:
        raise ValidationError("A credit is a positive amount.")
    return account_post(account=account, amount=amount, **kwargs)


def account_debit(*, account: Account, amount: Decimal, **kwargs) -> Transaction:
    """Take a positive amount; see `account_post`."""
    if _money(amount) <= 0:
        raise ValidationError("A debit is a positive amount.")
    return account_post(account=account, amount=-amount, **kwargs)


# The Customers section: accounts, their login and redeem right, manual adjustments.


def account_open(
    *,
    actor,
    name: str,
    reseller: Reseller,
    username: str,
    currency: str = "",
    first_name: str = "",
    email: str = "",
) -> tuple[Account, str]:
    """Open a customer account in a company of the actor's subtree, with its login user.

    The account number is assigned; the currency defaults to the company's; the login holds
    the redeem right (the Customers group) and a temporary password, returned to be shown once
    and changed at first sign-in. An inactive company gets no new customers.
    """
    require_right(actor, "billing.add_account")
    require_scope(actor, reseller)
    currency = currency or reseller.currency
    errors = {}
    if not name.strip():
        errors["name"] = _("Enter the customer's name.")
    if not is_iso_currency(currency):
        errors["currency"] = _("Choose an ISO 4217 currency, such as USD.")
    if not Reseller.objects.active().filter(pk=reseller.pk).exists():
        errors["reseller"] = _("This company is inactive: it gets no new customers.")
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = _("A user with that username already exists.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # The company's row lock: a deactivation waits for this opening, or this sees it.
        if not list(
            Reseller.objects.select_for_update().filter(pk=reseller.pk, is_active=True).values("pk")
        ):
            raise ValidationError(
                {"reseller": _("This company is inactive: it gets no new customers.")}
            )
        user, password = login_create(
            username=username,
            group=Group.objects.get(name=GROUP_CUSTOMERS),
            first_name=first_name,
            email=email,
        )
        account = Account.objects.create(
            name=name.strip(), reseller=reseller, currency=currency, user=user
        )
        audit(
            "account.opened",
            actor=actor,
            account=account.pk,
            number=account.number,
            reseller=reseller.pk,
            currency=currency,
            user=user.pk,
        )
    return account, password


def _require_account_scope(actor, account: Account) -> None:
    require_scope(actor, Reseller.objects.get(pk=account.reseller_id))


def account_can_redeem(account: Account) -> bool:
    """The redeem right is the account's login being in the Customers group."""
    return account.user is not None and account.user.groups.filter(name=GROUP_CUSTOMERS).exists()


def account_set_redeem_right(*, actor, account: Account, allowed: bool) -> None:
    """Grant or revoke the redeem right of the account's login; audited."""
    require_right(actor, "billing.change_account")
    _require_account_scope(actor, account)
    if account.user is None:
        raise ValidationError(_("This account has no login user."))
    group = Group.objects.get(name=GROUP_CUSTOMERS)
    with transaction.atomic():
        if allowed:
            account.user.groups.add(group)
        else:
            account.user.groups.remove(group)
        audit(
            "account.redeem_granted" if allowed else "account.redeem_revoked",
            actor=actor,
            account=account.pk,
            user=account.user_id,
        )


def account_adjust(
    *, actor, account: Account, direction: str, amount: Decimal, note: str
) -> Transaction:
    """Post a manual credit or debit with a note, through `account_post`; audited.

    A debit below zero is refused with a message naming the balance, and changes nothing.
    """
    require_right(actor, "billing.adjust_balance")
    _require_account_scope(actor, account)
    errors = {}
    if direction not in ("credit", "debit"):
        errors["direction"] = _("Choose credit or debit.")
    if not isinstance(amount, Decimal) or amount <= 0 or amount.as_tuple().exponent < -2:
        errors["amount"] = _("Enter an amount greater than zero, with at most 2 decimals.")
    if not note.strip():
        errors["note"] = _("Say why: the note goes into the customer's ledger.")
    if errors:
        raise ValidationError(errors)
    credit = direction == "credit"
    try:
        with transaction.atomic():
            posting = account_post(
                account=account,
                amount=amount if credit else -amount,
                kind=Transaction.Kind.MANUAL_PAYMENT if credit else Transaction.Kind.MANUAL_CHARGE,
                description=note.strip()[:255],
                user=actor,
            )
            audit(
                "account.balance_adjusted",
                actor=actor,
                account=account.pk,
                amount=str(posting.amount),
                balance_after=str(posting.balance_after),
                note=posting.description,
            )
    except InsufficientFunds:
        account.refresh_from_db(fields=["balance"])
        raise ValidationError(
            {
                "amount": _(
                    "The balance is %(balance)s: a debit of %(amount)s would take it below zero."
                )
                % {
                    "balance": money(account.balance, account.currency),
                    "amount": money(amount, account.currency),
                }
            }
        ) from None
    return posting
