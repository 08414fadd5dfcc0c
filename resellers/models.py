from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

currency_validator = RegexValidator(r"^[A-Z]{3}$", "Enter a three-letter ISO 4217 code.")


class ResellerQuerySet(models.QuerySet):
    def subtree_of(self, reseller: "Reseller") -> "ResellerQuerySet":
        """The reseller and every reseller below it."""
        return self.filter(path__startswith=reseller.path)


class Reseller(models.Model):
    """A company in the reseller tree. The operator's own company is the root (no parent).

    `path` is a materialised path of primary keys ("1/4/9/"), so a whole subtree is one
    indexed prefix query.
    """

    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
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
        super().save(*args, **kwargs)
        path = f"{self.parent.path if self.parent else ''}{self.pk}/"
        if path != self.path:
            self.path = path
            type(self).objects.filter(pk=self.pk).update(path=path)

    def ancestors_and_self(self) -> list[int]:
        """Primary keys from the root down to this reseller."""
        return [int(pk) for pk in self.path.strip("/").split("/") if pk]


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
