from django.conf import settings
from django.db import connections, models
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from billing.models import MONEY, Account, as_money
from resellers.models import Reseller, currency_validator


class Series(models.Model):
    """One "Generate Top-Up Cards" run: `quantity` cards numbered from `first_number`."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the worker"
        RUNNING = "running", "Generating"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    code = models.CharField(max_length=20, db_index=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    quantity = models.PositiveIntegerField()
    first_number = models.PositiveBigIntegerField()
    pin_length = models.PositiveSmallIntegerField()
    reseller = models.ForeignKey(Reseller, on_delete=models.PROTECT, related_name="series")
    expires_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DONE)
    progress = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "series"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="series_amount_positive"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=1_000_000), name="series_quantity_range"
            ),
            models.CheckConstraint(
                condition=Q(pin_length__gte=8, pin_length__lte=20), name="series_pin_length_range"
            ),
        ]
        permissions = [("generate_series", "Can generate series of top-up cards")]

    def __str__(self) -> str:
        return f"{self.code} ({self.quantity} x {self.amount} {self.currency})"

    @property
    def last_number(self) -> int:
        return self.first_number + self.quantity - 1


class CardQuerySet(models.QuerySet):
    def with_display_status(self) -> "CardQuerySet":
        """Annotate `display_status`: expired is derived from the date, in SQL."""
        return self.annotate(
            display_status=Case(
                When(status=Card.Status.ACTIVATED, then=Value("activated")),
                When(status=Card.Status.BLOCKED, then=Value("blocked")),
                When(expires_at__lte=Now(), then=Value("expired")),
                default=Value("new"),
                output_field=models.CharField(),
            )
        )

    def redeemable(self) -> "CardQuerySet":
        """New, not blocked, not expired."""
        return self.filter(STATUS_CONDITIONS["new"])

    def with_display(self, status: str) -> "CardQuerySet":
        """Cards whose displayed status is `status` (new, activated, expired, blocked)."""
        return self.filter(STATUS_CONDITIONS[status])

    def activation_sql(
        self, *, digest: str, account: Account, owners: list[int], when, also: str = ""
    ) -> tuple[str, list]:
        """The conditional `UPDATE ... RETURNING` that moves a card from new to activated.

        It changes the card with this PIN digest only if it is redeemable, owned by one of
        `owners` and in the account's currency, and returns (id, number, amount, currency).
        Concurrent statements for one card serialise on its row lock; only the first changes
        it. The "redeemable" condition is the ORM's own, compiled once per database. Used
        alone (`activate`) or inside the one-statement redemption on PostgreSQL, which adds its
        lockout gate as `also` (one more SQL condition, without parameters).
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
            f" WHERE {redeemable} AND {column['pin_digest']} = %s"
            f" AND {column['reseller_id']} IN ({', '.join(['%s'] * len(owners))})"
            f" AND {column['currency']} = %s{f' AND {also}' if also else ''}"
            f" RETURNING {quote('id')}, {quote('number')}, {quote('amount')}, {quote('currency')}"
        )
        activated_at = connection.ops.adapt_datetimefield_value(when)
        params = [Card.Status.ACTIVATED, activated_at, account.pk, *redeemable_params, digest]
        return sql, [*params, *owners, account.currency]

    def activate(self, *, digest: str, account: Account, owners: list[int]):
        """Run `activation_sql`: (id, number, amount, currency) of the card, or None."""
        sql, params = self.activation_sql(
            digest=digest, account=account, owners=owners, when=timezone.now()
        )
        with connections[self.db].cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        pk, number, amount, currency = row
        return pk, number, as_money(amount), currency


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
        NEW = "new", "New"
        ACTIVATED = "activated", "Activated"
        BLOCKED = "blocked", "Blocked"

    DISPLAY_STATUSES = [
        ("new", "New"),
        ("activated", "Activated"),
        ("expired", "Expired"),
        ("blocked", "Blocked"),
    ]

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
    pin_digest = models.CharField(max_length=64, unique=True, editable=False)
    pin_encrypted = models.BinaryField(editable=False)
    pin_key_version = models.PositiveSmallIntegerField(editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    expires_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="activated_cards"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = CardQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["reseller", "status"], name="card_reseller_status"),
            models.Index(fields=["series", "status"], name="card_series_status"),
            models.Index(fields=["-created_at", "-id"], name="card_created"),
            models.Index(fields=["expires_at"], name="card_expires"),
            models.Index(fields=["activated_at"], name="card_activated"),
        ]
        constraints = [
            # One index serves uniqueness, exact lookups and prefix search (LIKE '101-00%').
            models.UniqueConstraint(
                fields=["number"], name="card_number_unique", opclasses=["varchar_pattern_ops"]
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="card_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["new", "activated", "blocked"]), name="card_status_known"
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
        permissions = [
            ("mass_edit_cards", "Can mass-edit top-up cards"),
            ("reveal_pin", "Can reveal and export PINs"),
            ("redeem_card", "Can redeem a top-up card"),
        ]

    def __str__(self) -> str:
        return self.number


_NOT_EXPIRED = Q(expires_at__isnull=True) | Q(expires_at__gt=Now())
# The displayed status of a card, in SQL: "expired" is a new card whose date has passed.
STATUS_CONDITIONS = {
    "new": Q(status=Card.Status.NEW) & _NOT_EXPIRED,
    "expired": Q(status=Card.Status.NEW, expires_at__lte=Now()),
    "activated": Q(status=Card.Status.ACTIVATED),
    "blocked": Q(status=Card.Status.BLOCKED),
}


class RedemptionAttempt(models.Model):
    """Every PIN typed on the Payment Gateways page or sent through the API, with its
    outcome; never the PIN."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Credited"
        ALREADY = "already", "Already credited to this account"
        FAILED = "failed", "Refused"

    # Outcomes that count towards the lockout.
    FAILURES = [Outcome.FAILED]

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    client_address = models.GenericIPAddressField()
    # The public id of the API key that sent the attempt; empty for the web page. An API
    # attempt counts against its key, not against the gateway's address.
    api_key = models.CharField(max_length=24, blank=True, default="")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=40, blank=True, default="")
    # The card's number, not a foreign key: the log outlives deleted cards, and cards stay
    # deletable in one DELETE.
    card_number = models.CharField(max_length=40, blank=True, default="")
    lifted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The lockout counts only live failures: partial indexes keep that count small however
        # many successful attempts an account or an address has made.
        indexes = [
            models.Index(
                fields=["account", "created_at"],
                name="attempt_account_failures",
                condition=Q(outcome="failed", lifted=False),
            ),
            models.Index(
                fields=["client_address", "created_at"],
                name="attempt_address_failures",
                condition=Q(outcome="failed", lifted=False, api_key=""),
            ),
            models.Index(
                fields=["api_key", "created_at"],
                name="attempt_api_key_failures",
                condition=Q(outcome="failed", lifted=False) & ~Q(api_key=""),
            ),
            models.Index(fields=["-created_at"], name="attempt_created"),
        ]
        permissions = [("lift_lockout", "Can lift a redemption lockout")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.account_id} {self.outcome}"


class AuditEvent(models.Model):
    """Append-only log of who did what, written by services inside their transaction."""

    SERIES_GENERATED = "series.generated"
    SERIES_FAILED = "series.failed"
    CARDS_MASS_EDITED = "cards.mass_edited"
    CARDS_DELETED = "cards.deleted"
    CARDS_EXPORTED = "cards.exported"
    PIN_REVEALED = "card.pin_revealed"
    CARD_REDEEMED = "card.redeemed"
    REDEMPTION_FAILED = "card.redemption_failed"
    LOCKOUT_LIFTED = "lockout.lifted"

    action = models.CharField(max_length=40, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    details = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"


def audit(action: str, *, actor=None, **details) -> AuditEvent:
    """Write one audit row; call it inside the transaction of the action it records."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(action=action, actor=actor, details=details)
