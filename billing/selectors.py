from django.db.models import Count, QuerySet

from resellers.scoping import is_staff_member, reseller_ids_visible_to

from .models import Account


def accounts_visible_to(user) -> QuerySet[Account]:
    """Staff see the accounts of their reseller subtree; a customer sees only its own."""
    if not user.is_authenticated:
        return Account.objects.none()
    if is_staff_member(user):
        return Account.objects.filter(reseller_id__in=reseller_ids_visible_to(user))
    return Account.objects.filter(user=user)


def customers_per_reseller(reseller_ids: list[int]) -> dict[int, str]:
    rows = (
        Account.objects.filter(reseller_id__in=reseller_ids)
        .order_by()
        .values("reseller_id")
        .annotate(n=Count("pk"))
    )
    return {row["reseller_id"]: f"{row['n']:,}" for row in rows}


def customers_total(reseller_ids: list[int]) -> str:
    return f"{Account.objects.filter(reseller_id__in=reseller_ids).count():,}"
