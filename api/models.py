import ipaddress
from functools import lru_cache

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.client_address import parse_address
from resellers.models import Reseller
from resellers.scoping import ResellerScopedQuerySet


@lru_cache(maxsize=4096)
def _network(text: str):
    """A network as stored in `allowed_networks`, parsed once per process."""
    return ipaddress.ip_network(text)


class ApiRight(models.TextChoices):
    """What a key may do beyond redeeming PINs and reading balances (which every key may).

    A key acts for the user who created it: each right also needs that user's permissions
    (`RIGHT_PERMISSIONS`), checked when the key is made and again by the panel's own services
    on every call, so a key never does more than its user may.
    """

    SELL_EPINS = "sell_epins", _("Sell e-PINs")
    READ = "read", _("Read series, cards, jobs and the liability figures (never a PIN)")
    GENERATE = "generate", _("Generate series")
    RELEASE = "release", _("Release serial ranges for sale, optionally to a reseller")
    BLOCK = "block", _("Block and unblock cards")
    VOID = "void", _("Void cards for good")
    EDIT = "edit", _("Mass-edit the expiry and the company of cards")
    EXPORT = "export", _("Export PINs encrypted to a registered print shop")


# The panel permissions each right needs its key's user to hold: the one home of the mapping
# (the key form and `api_key_create` read it; the services check the permissions themselves).
RIGHT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    ApiRight.SELL_EPINS: (),
    ApiRight.READ: ("topup.view_card",),
    ApiRight.GENERATE: ("topup.generate_series",),
    ApiRight.RELEASE: ("topup.release_cards",),
    ApiRight.BLOCK: ("topup.mass_edit_cards", "topup.block_cards"),
    ApiRight.VOID: ("topup.void_cards",),
    ApiRight.EDIT: ("topup.mass_edit_cards",),
    ApiRight.EXPORT: ("topup.reveal_pin",),
}


class ApiKeyQuerySet(ResellerScopedQuerySet):
    def visible_to(self, user) -> "ApiKeyQuerySet":
        """The keys of the user's reseller subtree, for users who may see keys at all."""
        if not user.has_perm("api.view_apikey"):
            return self.none()
        return super().visible_to(user)


class ApiKey(models.Model):
    """A key for one integration (an IVR, a USSD gateway, a switch).

    It acts only on the accounts of its reseller's subtree, only from its allowed networks.
    The secret is never stored: `secret_digest` checks it (see `api.keys`). Revoked keys stay
    for the record.
    """

    name = models.CharField(max_length=100)
    reseller = models.ForeignKey(Reseller, on_delete=models.PROTECT, related_name="api_keys")
    public_id = models.CharField(max_length=24, unique=True, editable=False)
    secret_digest = models.CharField(max_length=64, editable=False)
    # CIDR networks ("192.0.2.0/24", "2001:db8::/48"); a call from anywhere else is refused.
    allowed_networks = models.JSONField(default=list)
    rights = models.JSONField(default=list, blank=True)  # ApiRight values
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Recorded to the minute (a write on every call would make one key's calls queue).
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_from = models.GenericIPAddressField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        ordering = ["-created_at", "-pk"]
        # Keys change only through their services: creation and revocation are one right.
        default_permissions = ("view",)
        permissions = [("manage_api_keys", _("Can create and revoke API keys"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=models.F("created_at")),
                name="apikey_revoked_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_right(self, right: "ApiRight") -> bool:
        return ApiRight(right).value in self.rights

    def allows(self, address: str) -> bool:
        """Whether a call from `address` comes from one of the allowed networks."""
        ip = parse_address(address)
        if ip is None:
            return False
        for network in self.allowed_networks:
            try:
                if ip in _network(network):
                    return True
            except (TypeError, ValueError):
                continue
        return False


class IdempotencyRecord(models.Model):
    """The first answer to a redemption request, replayed for every request with the same
    key: the gateway may retry after a time-out and nothing is credited twice.

    `fingerprint` identifies the request (account and PIN, through the keyed PIN digest, so
    it reveals no PIN); a key reused for another request is refused.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)  # 0 until answered
    body = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        default_permissions = ("view",)  # written by the API only
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id} {self.key} -> {self.status_code}"


class ApiJob(models.Model):
    """A background job a key started (a series being generated, a bulk action), so that the
    key, and only keys of its part of the tree, can poll it as `GET /api/v1/jobs/{id}`."""

    class Kind(models.TextChoices):
        SERIES = "series", _("Series generation")
        BULK = "bulk", _("Bulk action")

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    object_id = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ("view",)  # written by the API only
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="apijob_one_per_job"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}-{self.object_id}"
