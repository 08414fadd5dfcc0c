"""Print shops: registering one with its OpenPGP public key, removing one."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext

from resellers.models import AuditEvent, audit

from ...models import PrintShop
from ...openpgp import OpenPGPError, openpgp


def print_shop_add(*, user, name: str, public_key: str) -> PrintShop:
    """Register a print shop; its key must be one OpenPGP public key able to encrypt."""
    if not user.has_perm("topup.add_printshop"):
        raise PermissionDenied
    name = name.strip()
    errors = {}
    if not 1 <= len(name) <= 100:
        errors["name"] = gettext("Enter the print shop's name (at most 100 characters).")
    elif PrintShop.objects.filter(name__iexact=name).exists():
        errors["name"] = gettext("A print shop of this name is registered already.")
    try:
        key = openpgp.inspect(public_key.strip())
    except OpenPGPError as exc:
        errors["public_key"] = str(exc)
    else:
        if PrintShop.objects.filter(fingerprint=key.fingerprint).exists():
            errors["public_key"] = gettext(
                "This key is registered already, for another print shop."
            )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        shop = PrintShop.objects.create(
            name=name,
            public_key=key.armored,
            fingerprint=key.fingerprint,
            key_uid=key.uid[:255],
            key_expires_at=key.expires_at,
            created_by=user,
        )
        audit(
            AuditEvent.Action.PRINT_SHOP_ADDED,
            actor=user,
            shop=shop.pk,
            name=shop.name,
            fingerprint=shop.fingerprint,
        )
    return shop


def print_shop_delete(*, user, shop: PrintShop) -> None:
    if not user.has_perm("topup.delete_printshop"):
        raise PermissionDenied
    with transaction.atomic():
        audit(
            AuditEvent.Action.PRINT_SHOP_DELETED,
            actor=user,
            shop=shop.pk,
            name=shop.name,
            fingerprint=shop.fingerprint,
        )
        shop.delete()
