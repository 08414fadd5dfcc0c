"""What changes e-PIN products: an operator defines and edits what shops sell through
`POST /api/v1/epins` (code, amount, currency, validity, stock series, made on demand)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from billing.currencies import is_iso_currency
from resellers.models import AuditEvent, audit
from resellers.scoping import RESELLER_OUT_OF_SCOPE, reseller_ids_visible_to

from ..models import EpinProduct

FIELDS = (
    "code", "name", "reseller", "amount", "currency", "validity_days", "make_on_demand",
    "series_code", "active",
)  # fmt: skip


def _validate(*, user, product: EpinProduct, series) -> None:
    errors = {}
    visible = reseller_ids_visible_to(user)
    if product.reseller_id not in visible:
        errors["reseller"] = RESELLER_OUT_OF_SCOPE
    if not is_iso_currency(product.currency):
        errors["currency"] = _("Enter a known ISO 4217 currency code.")
    if product.make_on_demand and not product.series_code:
        errors["series_code"] = _("Enter the series code of the cards made on demand.")
    for one in series:
        if one.reseller_id not in visible:
            errors["series"] = RESELLER_OUT_OF_SCOPE
        elif (one.amount, one.currency) != (product.amount, product.currency):
            errors["series"] = _(
                "Series %(code)s holds cards of another amount or currency than the product."
            ) % {"code": one.code}
    if errors:
        raise ValidationError(errors)


def epin_product_save(*, user, product: EpinProduct | None = None, data: dict) -> EpinProduct:
    """Create (`product` None) or change a product from `data` (the form's cleaned data: the
    FIELDS and `series`). Needs the add or change right and everything in the user's subtree;
    the code stays what it was once created. Audited."""
    creating = product is None
    if not user.has_perm("topup.add_epinproduct" if creating else "topup.change_epinproduct"):
        raise PermissionDenied
    if not creating and product.reseller_id not in reseller_ids_visible_to(user):
        raise PermissionDenied
    product = product or EpinProduct(created_by=user)
    for name in FIELDS:
        if name == "code" and not creating:
            continue
        if name in data:
            setattr(product, name, data[name])
    series = list(data.get("series", []))
    _validate(user=user, product=product, series=series)
    with transaction.atomic():
        product.save()
        product.series.set(series)
        audit(
            AuditEvent.Action.EPIN_PRODUCT_SAVED,
            actor=user,
            product=product.code,
            created=creating,
            amount=str(product.amount),
            currency=product.currency,
            reseller=product.reseller_id,
            series=[one.pk for one in series],
            make_on_demand=product.make_on_demand,
        )
    return product
