"""The one place that says which resellers a user may see.

A staff user sees its reseller and every descendant (`Reseller.objects.visible_to`); anyone
else sees no reseller. Every reseller-scoped model's QuerySet has its own `visible_to(user)`,
built on `ResellerScopedQuerySet` here: `Card.objects.visible_to(user)`, and so on.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import Reseller, ResellerQuerySet

GROUP_OPERATORS = "Operators"
GROUP_RESELLER_USERS = "Reseller users"
GROUP_CUSTOMERS = "Customers"
# The groups' names are identifiers (migrations and code find the roles by them); people read
# these, in their own language.
ROLE_NAMES = {
    GROUP_OPERATORS: _("Operators"),
    GROUP_RESELLER_USERS: _("Reseller users"),
    GROUP_CUSTOMERS: _("Customers"),
}
# What a form or a service says when a chosen reseller is outside the user's subtree.
RESELLER_OUT_OF_SCOPE = _("Choose a reseller in your part of the tree.")


def role_name(group) -> str:
    """A role (a group, or its name) as people read it; a group added by hand keeps its name."""
    name = getattr(group, "name", group)
    return str(ROLE_NAMES.get(name, name))


def resellers_visible_to(user) -> ResellerQuerySet:
    """The scope tests' name for `Reseller.objects.visible_to`; the app calls that."""
    return Reseller.objects.visible_to(user)


def reseller_ids_visible_to(user) -> list[int]:
    """Primary keys of the user's subtree, cached on the user object for the request."""
    cached = getattr(user, "_visible_reseller_ids", None)
    if cached is None:
        cached = list(Reseller.objects.visible_to(user).values_list("pk", flat=True))
        user._visible_reseller_ids = cached
    return cached


class ResellerScopedQuerySet(models.QuerySet):
    """Rows owned by a reseller: a staff user sees those of its subtree, anyone else none.

    `scope` is the lookup of the owning reseller's id, through a relation where needed.
    """

    scope = "reseller_id"

    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        return self.filter(**{f"{self.scope}__in": reseller_ids_visible_to(user)})


def is_operator(user) -> bool:
    """Staff of the root company (the operator's own), or a superuser."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.reseller_id is not None and user.reseller.parent_id is None


def is_staff_member(user) -> bool:
    """Operators and reseller users: people who manage cards rather than redeem them."""
    return user.is_authenticated and user.reseller_id is not None
