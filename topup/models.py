from django.conf import settings
from django.db import connections, models
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from billing.models import MONEY, Account, as_money

# The audit log moved down to resellers so every app can write it; still importable here.
from resellers.models import AuditEvent, Reseller, audit, currency_validator  # noqa: F401


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
    valid_from = models.DateTimeField(null=True, blank=True)
    # Printed cards are generated in stock and released by serial range when a box ships;
    # e-PINs are released at once. (The model's default is the released card of before.)
    in_stock = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DONE)
    progress = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # Written by the worker as it goes; a running series whose heartbeat is old lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "series"
        ordering = ["-created_at", "-pk"]
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
                *(
                    When(STATUS_CONDITIONS[status], then=Value(status))
                    for status in ("activated", "blocked", "void", "expired", "in_stock")
                ),
                default=Value("new"),
                output_field=models.CharField(),
            )
        )

    def redeemable(self) -> "CardQuerySet":
        """Released (new), not blocked or void, valid from its date on, not expired.

        The redemption UPDATE compiles its condition from this queryset: the one rule.
        """
        return self.filter(
            STATUS_CONDITIONS["new"],
            Q(released_at__isnull=False),
            Q(valid_from__isnull=True) | Q(valid_from__lte=Now()),
        )

    def live(self) -> "CardQuerySet":
        """Cards that are or will be redeemable: in stock or new, not expired."""
        return self.filter(LIVE)

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
            f" WHERE {redeemable}"
            f" AND {column['pin_digest']} IN ({', '.join(['%s'] * len(digests))})"
            f" AND {column['reseller_id']} IN ({', '.join(['%s'] * len(owners))})"
            f" AND {column['currency']} = %s{f' AND {also}' if also else ''}"
            f" RETURNING {quote('id')}, {quote('number')}, {quote('amount')}, {quote('currency')}"
        )
        activated_at = connection.ops.adapt_datetimefield_value(when)
        params = [Card.Status.ACTIVATED, activated_at, account.pk, *redeemable_params, *digests]
        return sql, [*params, *owners, account.currency]

    def activate(self, *, digests: list[str], account: Account, owners: list[int]):
        """Run `activation_sql`: (id, number, amount, currency) of the card, or None."""
        sql, params = self.activation_sql(
            digests=digests, account=account, owners=owners, when=timezone.now()
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
        IN_STOCK = "in_stock", "In stock"
        NEW = "new", "New"
        ACTIVATED = "activated", "Activated"
        BLOCKED = "blocked", "Blocked"
        VOID = "void", "Void"

    DISPLAY_STATUSES = [
        ("in_stock", "In stock"),
        ("new", "New"),
        ("activated", "Activated"),
        ("expired", "Expired"),
        ("blocked", "Blocked"),
        ("void", "Void"),
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
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="activated_cards"
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
            models.Index(fields=["expires_at"], name="card_expires"),
            models.Index(fields=["activated_at"], name="card_activated"),
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
            ("mass_edit_cards", "Can mass-edit top-up cards"),
            ("reveal_pin", "Can reveal and export PINs"),
            ("redeem_card", "Can redeem a top-up card"),
            ("release_cards", "Can release top-up cards for sale"),
            ("block_cards", "Can block and unblock top-up cards"),
            ("void_cards", "Can void top-up cards for good"),
            ("redeem_for_customer", "Can redeem a top-up card for a customer (support)"),
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


# Cards no bulk action may change: activated ones (their ledger row is history) and void ones
# (void is for good).
FINAL_STATUSES = ["activated", "void"]


class CardSummaryQuerySet(models.QuerySet):
    def with_display(self, status: str) -> "CardSummaryQuerySet":
        """Rows of cards whose displayed status is `status`: the card list's own condition."""
        return self.filter(STATUS_CONDITIONS[status])

    def groups(self) -> "CardSummaryQuerySet":
        """One row per key with its net count of cards (delta rows summed; empty keys left out)."""
        return (
            self.order_by()
            .values(*CardSummary.KEY)
            .annotate(cards=models.Sum("cards"))
            .exclude(cards=0)
        )


class CardCounts(models.Model):
    """Numbers of cards by the summary's key: what the card summary and purged counts share."""

    KEY = (
        "series_id",
        "reseller_id",
        "currency",
        "status",
        "amount",
        "expires_at",
        "created_month",
        "activated_month",
    )

    # No foreign-key constraints: the triggers write here while cards, series and resellers
    # change in any order; the summary mirrors the cards' raw column values.
    series = models.ForeignKey(
        Series, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    reseller = models.ForeignKey(
        Reseller,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10)
    amount = models.DecimalField(**MONEY)
    expires_at = models.DateTimeField(null=True)
    created_month = models.DateField()  # first day of the card's created_at month, UTC
    activated_month = models.DateField(null=True)
    cards = models.BigIntegerField()  # signed: a change adds -n to the old key, +n to the new

    class Meta:
        abstract = True


class CardSummary(CardCounts):
    """Card counts by series, reseller, currency, status, amount, expiry and month.

    Kept exact by database triggers on `topup_card` (migration 0006), in the transaction of
    whatever changed the cards: every INSERT, UPDATE, DELETE or COPY, from any code path, adds
    signed delta rows here. Rows are only ever inserted by the triggers, so concurrent
    redemptions never wait on each other; readers sum the rows of a key (`groups()`), and
    `summary_compact` folds them into one row per key. "Expired" is not stored: it is a new
    card whose `expires_at` has passed, decided when the summary is read.
    """

    objects = CardSummaryQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.series_id} {self.status} {self.cards:+}"


class PurgedCards(CardCounts):
    """Cards the retention command deleted, counted by the card summary's key.

    Written in the statement that deletes them (`cards_purge`), so the liability report, which
    reads the summary and this table together, keeps every figure after the cards are gone.
    """

    purged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "purged cards"

    def __str__(self) -> str:
        return f"{self.cards} {self.status} cards of series {self.series_id}"


_NOT_EXPIRED = Q(expires_at__isnull=True) | Q(expires_at__gt=Now())
# The displayed status of a card, in SQL; every card has exactly one. "Expired" is a card in
# stock or new whose date has passed (derived, no cron job).
STATUS_CONDITIONS = {
    "in_stock": Q(status=Card.Status.IN_STOCK) & _NOT_EXPIRED,
    "new": Q(status=Card.Status.NEW) & _NOT_EXPIRED,
    "activated": Q(status=Card.Status.ACTIVATED),
    "expired": Q(status__in=[Card.Status.IN_STOCK, Card.Status.NEW], expires_at__lte=Now()),
    "blocked": Q(status=Card.Status.BLOCKED),
    "void": Q(status=Card.Status.VOID),
}
# Cards that are or will be redeemable (in stock ones are released later): what the guessing
# guard counts. On cards and on summary rows alike.
LIVE = Q(status__in=["in_stock", "new"]) & _NOT_EXPIRED


class RedemptionAttempt(models.Model):
    """Every PIN typed on the Payment Gateways page or sent through the API, with its
    outcome; never the PIN."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Credited"
        ALREADY = "already", "Already credited to this account"
        FAILED = "failed", "Refused"
        # The connection was lost while it ran: it may or may not have committed (its card's
        # ledger row says). Not a failure of the customer's: it does not count to a lockout.
        UNCONFIRMED = "unknown", "Not confirmed (connection lost)"

    # Outcomes that count towards the lockout.
    FAILURES = [Outcome.FAILED]

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    client_address = models.GenericIPAddressField()
    # What the address lockout counts: the IPv4 address, or the IPv6 address's /64.
    client_network = models.CharField(max_length=49, default="")
    # The public id of the API key that sent the attempt; empty for the web page. An API
    # attempt counts against its key, not against the gateway's address.
    api_key = models.CharField(max_length=24, blank=True, default="")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=40, blank=True, default="")
    # The card's number, not a foreign key: the log outlives deleted cards, and cards stay
    # deletable in one DELETE.
    card_number = models.CharField(max_length=40, blank=True, default="")
    # Support redemption: the staff user who typed the PIN for the account, and why.
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True, default="")
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
                fields=["client_network", "created_at"],
                name="attempt_network_failures",
                condition=Q(outcome="failed", lifted=False, api_key=""),
            ),
            models.Index(
                fields=["api_key", "created_at"],
                name="attempt_api_key_failures",
                condition=Q(outcome="failed", lifted=False) & ~Q(api_key=""),
            ),
            models.Index(fields=["-created_at"], name="attempt_created"),
            # A card's history lists the attempts on it.
            models.Index(fields=["card_number"], name="attempt_card", condition=~Q(card_number="")),
        ]
        default_permissions = ("view",)  # a log: written by the redemption service only
        permissions = [("lift_lockout", "Can lift a redemption lockout")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.account_id} {self.outcome}"


CARD_RANGE_SPAN = 10_000


class CardEventRange(models.Model):
    """Which cards an action touched, as runs of consecutive card ids.

    Each run belongs to an audit event (an action in one transaction) or to a background bulk
    job (its chunks commit one by one, each with its own runs; its audit event comes at the
    end). Bulk actions record exactly the ids their UPDATE changed; a series' cards have
    consecutive ids, so a million-card release is a hundred rows. A run spans fewer than SPAN
    ids, so "what touched card X" is one index range scan of `first_id` in (X - SPAN, X],
    whatever the number of actions: a card's history stays cheap.
    """

    SPAN = CARD_RANGE_SPAN

    event = models.ForeignKey(
        AuditEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="card_ranges"
    )
    job = models.ForeignKey(
        "BulkJob", null=True, blank=True, on_delete=models.CASCADE, related_name="card_ranges"
    )
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        default_permissions = ()  # written by the services, read through a card's history
        indexes = [models.Index(fields=["first_id", "last_id"], name="card_range_first")]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_id__gte=models.F("first_id"))
                & Q(last_id__lt=models.F("first_id") + CARD_RANGE_SPAN),
                name="card_range_bounded",
            ),
            models.CheckConstraint(
                condition=Q(event__isnull=False, job__isnull=True)
                | Q(event__isnull=True, job__isnull=False),
                name="card_range_event_or_job",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id or self.job_id}: {self.first_id}-{self.last_id}"

    @classmethod
    def touching(cls, card_id: int) -> models.QuerySet:
        """The runs that contain this card (exactly), with their event or job, oldest first."""
        return (
            cls.objects.filter(
                first_id__gt=card_id - cls.SPAN, first_id__lte=card_id, last_id__gte=card_id
            )
            .select_related("event__actor", "job__created_by")
            .order_by("created_at", "pk")
        )

    @classmethod
    def record(cls, runs, *, event=None, job=None) -> None:
        cls.objects.bulk_create(
            [cls(event=event, job=job, first_id=first, last_id=last) for first, last in runs],
            batch_size=5000,
        )


def card_runs(ids) -> tuple[list[tuple[int, int]], int]:
    """Runs (first, last) of consecutive ids, each shorter than CardEventRange.SPAN; and the count.

    `ids` may be any iterable (sorted or not, a queryset iterator, RETURNING rows).
    """
    ordered = sorted(ids)
    runs: list[tuple[int, int]] = []
    for card_id in ordered:
        if runs and card_id == runs[-1][1] + 1 and card_id - runs[-1][0] < CardEventRange.SPAN:
            runs[-1] = (runs[-1][0], card_id)
        elif not runs or card_id != runs[-1][1]:
            runs.append((card_id, card_id))
    return runs, sum(last - first + 1 for first, last in runs)


def audit_cards(action: str, *, actor=None, runs=None, **details) -> AuditEvent:
    """`audit`, recording exactly which cards the action touched (`runs` from `card_runs`).

    Call it inside the transaction of the action it records; each card's history finds it.
    """
    event = audit(action, actor=actor, **details)
    if runs:
        CardEventRange.record(runs, event=event)
    return event


class BulkJob(models.Model):
    """A bulk action on a large selection, run by the task worker in id-ordered chunks.

    Each chunk's transaction changes the cards and advances `last_id` and the counts together,
    so a resumed job carries on exactly after the last card done. See topup/services/jobs.py.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=30)  # a registered BulkAction's kind
    params = models.JSONField(default=dict)  # the action's describe()
    selection = models.JSONField(default=dict)  # {"search": query string} or {"cards": ids}
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    total = models.PositiveBigIntegerField(null=True, blank=True)  # counted when it starts
    selected = models.PositiveBigIntegerField(default=0)  # cards walked so far
    changed = models.PositiveBigIntegerField(default=0)
    last_id = models.BigIntegerField(default=0)  # the cursor: every card up to it is done
    runs = models.PositiveSmallIntegerField(default=0)  # times a worker started it
    token = models.CharField(max_length=32, blank=True, default="")  # the current run's claim
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")  # for the user; details go to the log
    # Failed because the database stayed away, not because of the work: it may run again
    # from its cursor (from its page, or by the reaper within TOPUP_JOB_MAX_RUNS).
    resumable = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="bulkjob_state_heartbeat")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    @property
    def skipped(self) -> int:
        return self.selected - self.changed

    @property
    def working(self) -> bool:
        return self.state in (self.State.PENDING, self.State.RUNNING)


class PrintShop(models.Model):
    """A print shop that receives card files encrypted to its OpenPGP public key."""

    name = models.CharField(max_length=100, unique=True)
    # The public key as gpg exported it after the upload was checked (topup/openpgp.py).
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=64, unique=True)
    key_uid = models.CharField("key user id", max_length=255, blank=True, default="")
    key_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        default_permissions = ("add", "view", "delete")  # a shop's key is replaced, not edited

    def __str__(self) -> str:
        return self.name

    @property
    def fingerprint_display(self) -> str:
        """The fingerprint in groups of four, as gpg prints it."""
        return " ".join(self.fingerprint[i : i + 4] for i in range(0, len(self.fingerprint), 4))


class SheetJob(models.Model):
    """A large card sheet made by the task worker, for the user who asked for it.

    The finished PDF is kept only sealed (AES-GCM under the PIN key, like the cards' own PINs)
    until it is downloaded once or expires; it is never a file on the server. Not a BulkJob:
    a sheet is one all-or-nothing render with a result to hand over, not chunked updates
    behind a cursor.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the worker"
        RUNNING = "running", "Rendering"
        DONE = "done", "Ready to download"
        FAILED = "failed", "Failed"
        GONE = "gone", "Downloaded or expired"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    card_ids = models.JSONField(default=list)
    layout = models.JSONField(default=dict)
    total = models.PositiveIntegerField()
    progress = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True, default="")
    result = models.BinaryField(null=True, editable=False)
    result_key_version = models.PositiveSmallIntegerField(null=True, editable=False)
    pages = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Written with each step's progress: a render whose heartbeat stops lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        default_permissions = ()  # reached through the export right and its owner only

    def __str__(self) -> str:
        return f"sheet {self.pk} ({self.total} cards, {self.state})"
