from django.db.models import Count, QuerySet

from locales.formats import number

from .models import Account


def accounts_visible_to(user) -> QuerySet[Account]:
    """The scope tests' name for `Account.objects.visible_to`; the app calls that."""
    return Account.objects.visible_to(user)


def customers_per_reseller(reseller_ids: list[int]) -> dict[int, str]:
    rows = (
        Account.objects.filter(reseller_id__in=reseller_ids)
        .order_by()
        .values("reseller_id")
        .annotate(n=Count("pk"))
    )
    return {row["reseller_id"]: number(row["n"]) for row in rows}


def customers_total(reseller_ids: list[int]) -> str:
    return number(Account.objects.filter(reseller_id__in=reseller_ids).count())
