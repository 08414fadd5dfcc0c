"""Reads that depend on who asks: a staff user (the key pages) or an API key (the API)."""

from django.db.models import QuerySet

from billing.models import Account
from billing.numbers import is_valid_account_number
from resellers.scoping import reseller_ids_visible_to

from .models import ApiKey


def api_keys_visible_to(user) -> QuerySet[ApiKey]:
    """The keys of the user's reseller subtree, for users who may see keys at all."""
    if not user.is_authenticated or not user.has_perm("api.view_apikey"):
        return ApiKey.objects.none()
    return ApiKey.objects.filter(reseller_id__in=reseller_ids_visible_to(user))


def accounts_visible_to_key(key: ApiKey) -> QuerySet[Account]:
    """The accounts of the key's reseller subtree (right the moment a reseller moves)."""
    return Account.objects.filter(reseller__path__startswith=key.reseller.path)


def account_for_key(key: ApiKey, number: str) -> Account | None:
    """The account with this number if the key may act on it; None for an unknown number, a
    malformed one or one outside the key's subtree alike."""
    if not is_valid_account_number(number):
        return None
    return accounts_visible_to_key(key).select_related("reseller").filter(number=number).first()
