"""Print shops: who receives the card files, encrypted to their OpenPGP key."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PrintShop(models.Model):
    """A print shop that receives card files encrypted to its OpenPGP public key."""

    name = models.CharField(max_length=100, unique=True)
    # The public key as gpg exported it after the upload was checked (topup/openpgp.py).
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=64, unique=True)
    key_uid = models.CharField(_("key user id"), max_length=255, blank=True, default="")
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
