"""Redemption attempts: every PIN typed or sent, with its outcome (never the PIN)."""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from billing.models import Account
from resellers.scoping import reseller_ids_visible_to

from .cards import Card


class RedemptionAttemptQuerySet(models.QuerySet):
    def visible_to(self, user) -> "RedemptionAttemptQuerySet":
        """Attempts by the accounts in the user's subtree, for users who may see attempts.

        `card_visible` says whether the typed PIN's card is in the subtree too: a customer may
        type another reseller's PIN, and that card's number is not this user's to see.
        """
        if not user.has_perm("topup.view_redemptionattempt"):
            return self.none()
        return (
            self.filter(account__reseller_id__in=reseller_ids_visible_to(user))
            .annotate(
                card_visible=Exists(
                    Card.objects.visible_to(user).filter(number=OuterRef("card_number"))
                )
            )
            .select_related("account")
        )


class RedemptionAttempt(models.Model):
    """Every PIN typed on the Payment Gateways page or sent through the API, with its
    outcome; never the PIN."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Credited")
        ALREADY = "already", _("Already credited to this account")
        FAILED = "failed", _("Refused")
        # The connection was lost while it ran: it may or may not have committed (its card's
        # ledger row says). Not a failure of the customer's: it does not count to a lockout.
        UNCONFIRMED = "unknown", _("Not confirmed (connection lost)")

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

    objects = RedemptionAttemptQuerySet.as_manager()

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
        permissions = [("lift_lockout", _("Can lift a redemption lockout"))]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.account_id} {self.outcome}"
