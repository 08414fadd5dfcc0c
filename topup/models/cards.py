"""Series and cards, and the displayed statuses of a card as SQL conditions."""

from django.conf import settings
from django.db import connections, models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import MONEY, Account
from resellers.models import Reseller, currency_validator
from resellers.scoping import ResellerScopedQuerySet

from .jobs import Job, default_language

LABEL_MAX = 80
NOTES_MAX = 1000


class SeriesQuerySet(ResellerScopedQuerySet):
    """`visible_to(user)`: the series of the user's reseller subtree."""


class Series(Job):
    """One "Generate Top-Up Cards" run: `quantity` cards numbered from `first_number`.

    A job (its progress is the cards written): a large series is filled by the task worker.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the worker")
        RUNNING = "running", _("Generating")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    code = models.CharField(max_length=20, db_index=True)
    # Free text the operator searches by: distributor, purchase order, print run.
    label = models.CharField(max_length=LABEL_MAX, blank=True, default="")
    notes = models.TextField(max_length=NOTES_MAX, blank=True, default="")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    quantity = models.PositiveIntegerField()
    first_number = models.PositiveBigIntegerField()
    pin_length = models.PositiveSmallIntegerField()
    reseller = models.ForeignKey(Reseller, on_delete=models.PROTECT, related_name="series")
    expires_at = models.DateTimeField(null=True, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    # Printed cards are generated in stock and released by serial range when a box ships;
    # e-PINs are released at once. (The model's default is the released card of before.)
    in_stock = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DONE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The language of the text printed on its cards (read by the end customer): a code of
    # settings.LANGUAGES, kept without choices so a new language needs no migration.
    language = models.CharField(max_length=10, default=default_language)

    objects = SeriesQuerySet.as_manager()

    class Meta(Job.Meta):
        verbose_name_plural = _("series")
        # Series are made by the generator and read; no add/change/delete right means anything.
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="series_amount_positive"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=1_000_000), name="series_quantity_range"
            ),
            models.CheckConstraint(
                condition=Q(pin_length__gte=8, pin_length__lte=20), name="series_pin_length_range"
            ),
        ]
        permissions = [("generate_series", _("Can generate series of top-up cards"))]

    def __str__(self) -> str:
        return f"{self.code} ({self.quantity} x {self.amount} {self.currency})"

    @property
    def last_number(self) -> int:
        return self.first_number + self.quantity - 1


class CardQuerySet(ResellerScopedQuerySet):
    def with_display_status(self) -> "CardQuerySet":
        """Annotate `display_status`: expired is derived from the date, in SQL."""
        return self.annotate(
            display_status=Case(
                *(
                    When(STATUS_CONDITIONS[status], then=Value(status))
                    for status in ("activated", "blocked", "void", "expired", "in_stock")
                ),
                default=Value("new"),
                output_field=models.CharField(),
            )
        )

    def redeemable(self) -> "CardQuerySet":
        """Released (new), not blocked or void, valid from its date on, not expired: no
        reason of NOT_REDEEMABLE_BECAUSE holds.

        The redemption UPDATE compiles its condition from this queryset: the one rule.
        """
        refused = Q()
        for condition in NOT_REDEEMABLE_BECAUSE.values():
            refused |= condition
        return self.filter(~refused)

    def with_refusal(self) -> "CardQuerySet":
        """Annotate `refusal`: the first reason of NOT_REDEEMABLE_BECAUSE that holds for the
        card, or None for a redeemable card; the same rule as `redeemable`, in the same SQL."""
        return self.annotate(
            refusal=Case(
                *(
                    When(condition, then=Value(reason))
                    for reason, condition in NOT_REDEEMABLE_BECAUSE.items()
                ),
                default=None,
                output_field=models.CharField(),
            )
        )

    def with_display(self, status: str) -> "CardQuerySet":
        """Cards whose displayed status is `status` (one of Card.DISPLAY_STATUSES)."""
        return self.filter(STATUS_CONDITIONS[status])

    def activation_sql(
        self, *, digests: list[str], account: Account, owners: list[int], when, also: str = ""
    ) -> tuple[str, list]:
        """The conditional `UPDATE ... RETURNING` that moves a card from new to activated.

        It changes the card with one of these PIN digests (the current key's, and the previous
        key's while the digest key is rotated) only if it is redeemable, owned by one of
        `owners` and in the account's currency, and returns (id, number, amount, currency).
        Concurrent statements for one card serialise on its row lock; only the first changes
        it. The "redeemable" condition is the ORM's own, compiled once per database. Run
        inside the redemption's one statement (`topup.services.redemption.statement`), which
        adds its gate as `also` (one more SQL condition, without parameters).
        """
        connection = connections[self.db]
        redeemable, redeemable_params = _compiled_where(
            connection, "redeemable", lambda: Card.objects.redeemable()
        )
        quote = connection.ops.quote_name
        table = quote(Card._meta.db_table)
        column = {f: f"{table}.{quote(f)}" for f in ("pin_digest", "reseller_id", "currency")}
        sql = (
            f"UPDATE {table} SET {quote('status')} = %s, {quote('activated_at')} = %s,"
            f" {quote('activated_by_id')} = %s"
            f" WHERE {redeemable}"
            f" AND {column['pin_digest']} IN ({', '.join(['%s'] * len(digests))})"
            f" AND {column['reseller_id']} IN ({', '.join(['%s'] * len(owners))})"
            f" AND {column['currency']} = %s{f' AND {also}' if also else ''}"
            f" RETURNING {quote('id')}, {quote('number')}, {quote('amount')}, {quote('currency')}"
        )
        activated_at = connection.ops.adapt_datetimefield_value(when)
        params = [Card.Status.ACTIVATED, activated_at, account.pk, *redeemable_params, *digests]
        return sql, [*params, *owners, account.currency]


_COMPILED_WHERE: dict[tuple[str, str], tuple[str, list]] = {}


def _compiled_where(connection, name: str, queryset) -> tuple[str, list]:
    """The WHERE clause of a fixed queryset as SQL, compiled once per database connection."""
    key = (connection.alias, name)
    if key not in _COMPILED_WHERE:
        query = queryset().query
        sql, params = query.where.as_sql(query.get_compiler(connection=connection), connection)
        _COMPILED_WHERE[key] = (sql, list(params))
    return _COMPILED_WHERE[key]


class Card(models.Model):
    """A top-up card. The PIN is never stored: a keyed digest finds it, a cipher prints it."""

    class Status(models.TextChoices):
        IN_STOCK = "in_stock", _("In stock")
        NEW = "new", _("New")
        ACTIVATED = "activated", _("Activated")
        BLOCKED = "blocked", _("Blocked")
        VOID = "void", _("Void")

    # The status groups, each named once; the conditions below and the services use them.
    # Not sold yet or for sale: they can expire, and are or will be redeemable.
    UNSOLD = (Status.IN_STOCK, Status.NEW)
    # No bulk action changes these: redeemed (its ledger row is history), or void for good.
    FINAL = (Status.ACTIVATED, Status.VOID)
    # What the card list shows: the stored statuses and "expired", derived from the date.
    DISPLAY_STATUSES = [*Status.choices[:3], ("expired", _("Expired")), *Status.choices[3:]]

    # Foreign keys whose lookups the composite indexes below already serve carry no index of
    # their own: every index costs time on each of a million inserted rows.
    series = models.ForeignKey(
        Series, on_delete=models.CASCADE, related_name="cards", db_index=False
    )
    number = models.CharField(max_length=40)
    reseller = models.ForeignKey(
        Reseller, on_delete=models.PROTECT, related_name="cards", db_index=False
    )
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    # Unique through a named constraint rather than `unique=True`, which on PostgreSQL adds a
    # second (pattern) index on the digest that no query uses and every insert pays for.
    pin_digest = models.CharField(max_length=64, editable=False)
    pin_encrypted = models.BinaryField(editable=False)
    pin_key_version = models.PositiveSmallIntegerField(editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    # When the card was released for sale; empty while in stock. Unblocking returns a card to
    # in stock or new by it, so block and unblock can never release a card.
    released_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    valid_from = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activated_cards",
        db_index=False,  # card_activated_by leads with it
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = CardQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["reseller", "status"], name="card_reseller_status"),
            # A series' page walks this index in list order (its cards share one created_at).
            models.Index(fields=["series", "-created_at", "-id"], name="card_series_created"),
            # The list order; the scope column rides along so an unfiltered page N is an
            # index-only walk.
            models.Index(fields=["-created_at", "-id"], name="card_created", include=["reseller"]),
            # The card list's other orders and searches, each tie-broken by id so a page is an
            # index walk that stops after its rows (topup/card_list_plan.py); both directions.
            # One per stored status, in list order: each card is in exactly one of them, and
            # a status search walks only its own cards whatever the others' order (a shared
            # (status, ...) index loses to the list's own when the planner thinks "new" is
            # everywhere, and the newest are in stock).
            *(
                models.Index(
                    fields=["-created_at", "-id"],
                    name=f"card_{status}_created",
                    condition=Q(status=status),
                )
                for status in ("in_stock", "new", "activated", "blocked", "void")
            ),
            models.Index(fields=["reseller", "-created_at", "-id"], name="card_reseller_created"),
            models.Index(fields=["amount", "id"], name="card_amount_id"),
            # No expiry sorts after every date; not activated before every date.
            models.Index(fields=["expires_at", "id"], name="card_expires_id"),
            models.Index(
                F("activated_at").desc(nulls_last=True), F("id").desc(), name="card_activated_id"
            ),
            models.Index(
                F("activated_by"),
                F("activated_at").desc(nulls_last=True),
                F("id").desc(),
                name="card_activated_by",
            ),
        ]
        constraints = [
            # One index serves uniqueness, exact lookups and prefix search (LIKE '101-00%').
            models.UniqueConstraint(
                fields=["number"], name="card_number_unique", opclasses=["varchar_pattern_ops"]
            ),
            models.UniqueConstraint(fields=["pin_digest"], name="card_pin_digest_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="card_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["in_stock", "new", "activated", "blocked", "void"]),
                name="card_status_known",
            ),
            # In stock means never released; a card sells (new, activated) only once released.
            models.CheckConstraint(
                condition=(
                    Q(status="in_stock", released_at__isnull=True)
                    | Q(status__in=["new", "activated"], released_at__isnull=False)
                    | Q(status__in=["blocked", "void"])
                ),
                name="card_released_to_sell",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        status="activated",
                        activated_at__isnull=False,
                        activated_by__isnull=False,
                    )
                    | (
                        ~Q(status="activated")
                        & Q(activated_at__isnull=True, activated_by__isnull=True)
                    )
                ),
                name="card_activated_iff_dated",
            ),
        ]
        # Cards are made by generating a series and changed by the mass edit's own right.
        default_permissions = ("view", "delete")
        permissions = [
            ("mass_edit_cards", _("Can mass-edit top-up cards")),
            ("reveal_pin", _("Can reveal and export PINs")),
            ("redeem_card", _("Can redeem a top-up card")),
            ("release_cards", _("Can release top-up cards for sale")),
            ("block_cards", _("Can block and unblock top-up cards")),
            ("void_cards", _("Can void top-up cards for good")),
            ("redeem_for_customer", _("Can redeem a top-up card for a customer (support)")),
        ]

    def __str__(self) -> str:
        return self.number

    @staticmethod
    def unblocked_status() -> Case:
        """The status an unblocked card returns to: new if it was released, else in stock."""
        return Case(
            When(released_at__isnull=True, then=Value(Card.Status.IN_STOCK)),
            default=Value(Card.Status.NEW),
            output_field=models.CharField(),
        )


_NOT_EXPIRED = Q(expires_at__isnull=True) | Q(expires_at__gt=Now())
# The displayed status of a card, in SQL; every card has exactly one. "Expired" is a card in
# stock or new whose date has passed (derived, no cron job).
STATUS_CONDITIONS = {
    "in_stock": Q(status=Card.Status.IN_STOCK) & _NOT_EXPIRED,
    "new": Q(status=Card.Status.NEW) & _NOT_EXPIRED,
    "activated": Q(status=Card.Status.ACTIVATED),
    "expired": Q(status__in=Card.UNSOLD, expires_at__lte=Now()),
    "blocked": Q(status=Card.Status.BLOCKED),
    "void": Q(status=Card.Status.VOID),
}
# Why a card cannot be redeemed, in the order a refusal names them: each a condition on the
# card's own columns. A card for which none holds is redeemable (`CardQuerySet.redeemable`);
# the first that holds is the reason it is refused (`CardQuerySet.with_refusal`).
NOT_REDEEMABLE_BECAUSE = {
    "activated": Q(status=Card.Status.ACTIVATED),
    "void": Q(status=Card.Status.VOID),
    "blocked": Q(status=Card.Status.BLOCKED),
    "expired": Q(expires_at__lte=Now()),
    "in_stock": Q(status=Card.Status.IN_STOCK) | Q(released_at__isnull=True),
    "not_yet_valid": Q(valid_from__gt=Now()),
}
# Cards a bulk action may still change (release aside): neither redeemed nor void for good.
CHANGEABLE = ~Q(status__in=Card.FINAL)
# Cards that are or will be redeemable (in stock ones are released later): what the guessing
# guard counts. On cards and on summary rows alike.
LIVE = Q(status__in=Card.UNSOLD) & _NOT_EXPIRED
