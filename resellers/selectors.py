"""Reads of the Resellers section, always through the scoping function."""

from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from locales.formats import number

from .figures import figures
from .models import Reseller, User


@dataclass
class TreeRow:
    reseller: Reseller
    indent: int  # levels below the top of the user's tree
    users: int
    figures: list[tuple[str, str]]  # (label, text) per registered figure, in order


def reseller_tree(user) -> list[TreeRow]:
    """The user's subtree in tree order (a parent before its children), with its figures."""
    resellers = list(
        Reseller.objects.visible_to(user).annotate(
            staff=Count("users", filter=Q(users__is_active=True))
        )
    )
    # Paths sort as text ("1/10/" before "1/2/"), which still keeps every child after its
    # parent; order siblings by name instead, walking the tree.
    children: dict[int | None, list[Reseller]] = {}
    ids = {r.pk for r in resellers}
    for reseller in resellers:
        parent = reseller.parent_id if reseller.parent_id in ids else None
        children.setdefault(parent, []).append(reseller)
    ordered: list[tuple[Reseller, int]] = []

    def walk(parent, depth):
        for reseller in sorted(children.get(parent, []), key=lambda r: r.name.lower()):
            ordered.append((reseller, depth))
            walk(reseller.pk, depth + 1)

    walk(None, 0)
    values = [(figure.label, figure.per_reseller(list(ids))) for figure in figures()]
    return [
        TreeRow(
            reseller=reseller,
            indent=depth,
            users=reseller.staff,
            figures=[(label, by_reseller.get(reseller.pk, "")) for label, by_reseller in values],
        )
        for reseller, depth in ordered
    ]


def subtree_summary(reseller: Reseller) -> list[tuple[str, str]]:
    """What moves with `reseller`: (label, text) for its companies, staff and every figure."""
    ids = list(Reseller.objects.subtree_of(reseller).values_list("pk", flat=True))
    summary = [
        (_("Companies"), number(len(ids))),
        (_("Staff users"), number(User.objects.filter(reseller_id__in=ids).count())),
    ]
    summary.extend((figure.label, figure.total(ids)) for figure in figures())
    return summary


def staff_users_visible_to(user):
    """Staff users of the user's subtree as the user table shows them, in tree order."""
    return (
        User.objects.visible_to(user)
        .select_related("reseller")
        .prefetch_related("groups")
        .order_by("reseller__path", "username")
    )
