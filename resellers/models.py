from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.validators import RegexValidator
from django.db import connection, models, transaction
from django.db.models import Q

currency_validator = RegexValidator(r"^[A-Z]{3}$", "Enter a three-letter ISO 4217 code.")

TREE_LOCK = 7_460_002  # pg_advisory_xact_lock key serialising changes to the reseller tree


def lock_tree() -> None:
    """Serialise changes to the tree's paths (creations and moves) until the transaction ends.

    Readers never wait: a move rewrites every path of its subtree in one statement, so a
    reader sees the tree either before or after it.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TREE_LOCK])


class ResellerQuerySet(models.QuerySet):
    def subtree_of(self, reseller: "Reseller") -> "ResellerQuerySet":
        """The reseller and every reseller below it."""
        return self.filter(path__startswith=reseller.path)

    def active(self) -> "ResellerQuerySet":
        return self.filter(is_active=True)

    def visible_to(self, user) -> "ResellerQuerySet":
        """The one rule of who sees what: a staff user sees its reseller and every
        descendant; anyone else sees no reseller. Every scoped read starts from it."""
        if not user.is_authenticated or user.reseller_id is None:
            return self.none()
        return self.subtree_of(user.reseller)


class Reseller(models.Model):
    """A company in the reseller tree. The operator's own company is the root (no parent).

    `path` is a materialised path of primary keys ("1/4/9/"), so a whole subtree is one
    indexed prefix query. It is written when the reseller is created and rewritten, for the
    whole subtree at once, only by `resellers.services.reseller_move`: saving an existing
    reseller never writes `path` or `parent`, so a stale copy cannot undo a move.
    """

    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="An inactive company gets no new series or customers; "
        "its cards and customers keep working.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ResellerQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="reseller_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self._state.adding:
            with transaction.atomic():
                lock_tree()  # the parent cannot move between reading its path and our insert
                super().save(*args, **kwargs)
                parent_path = ""
                if self.parent_id is not None:
                    parent_path = type(self).objects.get(pk=self.parent_id).path
                self.path = f"{parent_path}{self.pk}/"
                type(self).objects.filter(pk=self.pk).update(path=self.path)
            return
        stored_parent = type(self).objects.filter(pk=self.pk).values_list("parent_id", flat=True)
        if self.parent_id != stored_parent.first():
            raise ValueError(
                "A reseller's parent changes only through resellers.services.reseller_move, "
                "which moves its whole subtree."
            )
        if kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in ("path", "parent")
            ]
        super().save(*args, **kwargs)

    @property
    def depth(self) -> int:
        return self.path.count("/") - 1

    def ancestors_and_self(self) -> list[int]:
        """Primary keys from the root down to this reseller."""
        return [int(pk) for pk in self.path.strip("/").split("/") if pk]


class UserManager(DjangoUserManager):
    def visible_to(self, user):
        """Staff users of the user's subtree (customers' logins belong to the Customers
        section, through their account)."""
        return self.filter(reseller__in=Reseller.objects.visible_to(user))


class User(AbstractUser):
    """A person who logs in.

    A custom user model from the first migration is Django's advice for a new project: it is
    the one change that cannot be made later without rewriting history. Staff of a reseller
    company (operators at the root, reseller users below) carry their company here; a customer
    user's account is `billing.Account.user`, so this app depends on nothing.
    """

    reseller = models.ForeignKey(
        Reseller, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    must_change_password = models.BooleanField(
        default=False,
        help_text="Set with a temporary password: the user chooses a new one at next sign-in.",
    )

    objects = UserManager()

    class Theme(models.TextChoices):
        """The panel's colours: the device's setting (prefers-color-scheme) unless chosen."""

        SYSTEM = "system", "System"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    theme = models.CharField(max_length=6, choices=Theme.choices, default=Theme.SYSTEM)


class AuditEvent(models.Model):
    """Append-only log of who did what, written by services inside their transaction.

    It lives in this app, the bottom of the dependency chain, so that every app's services can
    write it; its table keeps the name it had when it lived in `topup`.
    """

    class Action(models.TextChoices):
        """Every action the log records; `audit` refuses any other."""

        SERIES_GENERATED = "series.generated", "Series generated"
        SERIES_FAILED = "series.failed", "Series failed"
        SERIES_DESCRIBED = "series.described", "Series label or notes edited"
        CARDS_MASS_EDITED = "cards.mass_edited", "Cards mass-edited"
        CARDS_RELEASED = "cards.released", "Cards released"
        CARDS_VOIDED = "cards.voided", "Cards voided"
        CARDS_DELETED = "cards.deleted", "Cards deleted"
        CARDS_PURGED = "cards.purged", "Old cards purged"
        CARDS_EXPORTED = "cards.exported", "Cards exported with PINs"
        BULK_JOB_RESUMED = "bulk_job.resumed", "Background action resumed"
        CARDS_PRINTED = "cards.printed", "Cards printed"
        SHEET_DOWNLOADED = "cards.sheet_downloaded", "Card sheet downloaded"
        PRINT_SHOP_ADDED = "print_shop.added", "Print shop added"
        PRINT_SHOP_DELETED = "print_shop.deleted", "Print shop deleted"
        PIN_REVEALED = "card.pin_revealed", "PIN revealed"
        CARD_REDEEMED = "card.redeemed", "Card redeemed"
        REDEMPTION_FAILED = "card.redemption_failed", "Redemption failed"
        LOCKOUT_LIFTED = "lockout.lifted", "Lockout lifted"
        RESELLER_CREATED = "reseller.created", "Reseller created"
        RESELLER_RENAMED = "reseller.renamed", "Reseller renamed"
        RESELLER_MOVED = "reseller.moved", "Reseller moved"
        RESELLER_ACTIVATED = "reseller.activated", "Reseller activated"
        RESELLER_DEACTIVATED = "reseller.deactivated", "Reseller deactivated"
        USER_CREATED = "user.created", "User created"
        USER_DEACTIVATED = "user.deactivated", "User deactivated"
        USER_ACTIVATED = "user.activated", "User activated"
        USER_PASSWORD_RESET = "user.password_reset", "Password reset"
        ACCOUNT_OPENED = "account.opened", "Account opened"
        REDEEM_RIGHT_GRANTED = "account.redeem_granted", "Redeem right granted"
        REDEEM_RIGHT_REVOKED = "account.redeem_revoked", "Redeem right revoked"
        BALANCE_ADJUSTED = "account.balance_adjusted", "Balance adjusted"
        API_KEY_CREATED = "api_key.created", "API key created"
        API_KEY_REVOKED = "api_key.revoked", "API key revoked"
        EPIN_SOLD = "epin.sold", "E-PIN sold"
        EPIN_SALE_VOIDED = "epin.voided", "E-PIN sale voided"
        EPIN_PRODUCT_SAVED = "epin_product.saved", "E-PIN product saved"

    action = models.CharField(max_length=40, db_index=True, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    details = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "topup_auditevent"
        ordering = ["-created_at", "-pk"]
        default_permissions = ("view",)  # append-only: written by services only

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"


def audit(action: str, *, actor=None, **details) -> AuditEvent:
    """Write one audit row; call it inside the transaction of the action it records.

    Raises ValueError for an action that is not an `AuditEvent.Action`.
    """
    action = AuditEvent.Action(action)
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(action=action, actor=actor, details=details)
