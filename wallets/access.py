"""Who may see and who may manage a reseller's wallet: one home for the rule.

A staff user sees the wallets of its own reseller and of every reseller below it (the scope
of `Reseller.objects.visible_to`); any other wallet does not exist for it (404). It manages
(settings, discounts, top-ups, adjustments) only the wallets of resellers *below* its own:
a parent sets its children's prices and takes their money, never its own. Each page also
needs its Django permission.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from resellers.models import Reseller


def reseller_for_wallet(user, pk) -> Reseller:
    """The reseller `pk` if its wallet is in the user's scope, else 404."""
    return get_object_or_404(Reseller.objects.visible_to(user).select_related("parent"), pk=pk)


def may_manage(user, reseller: Reseller) -> bool:
    """A reseller below the user's own (the scope is checked by `reseller_for_wallet`)."""
    return (
        user.is_authenticated
        and user.reseller_id is not None
        and reseller.pk != user.reseller_id
        and reseller.parent_id is not None
    )


def check_may_manage(user, reseller: Reseller) -> None:
    """403 for one's own wallet (read-only) and the root's (the operator has none to manage)."""
    if not may_manage(user, reseller):
        raise PermissionDenied
