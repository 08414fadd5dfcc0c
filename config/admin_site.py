"""The Django admin, for operators only, with every list scoped and every filter declared.

- Only active staff of the root company (the operator) and superusers get in.
- Every ModelAdmin, the project's and third-party apps' alike, is made an `OperatorModelAdmin`
  when it is registered: its querysets are scoped to the user's subtree anyway, and its change
  list accepts only the filters it declares. Django's own change list also turns any other
  query parameter into a database lookup (`?path__regex=(`, `?amount__gt=1e999999999`), whose
  bad values reach the database and answer 500; here they are refused like a bad filter value.
"""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from resellers.scoping import is_operator, reseller_ids_visible_to


def _has_nul(values) -> bool:
    return any("\x00" in str(value) for value in values)


class DeclaredFiltersChangeList(ChangeList):
    """A change list that filters only by what `list_filter` and `date_hierarchy` declare."""

    def get_filters(self, request):
        if _has_nul(v for values in self.filter_params.values() for v in values):
            raise IncorrectLookupParameters("A filter value holds a NUL character.")
        try:
            filters = super().get_filters(request)
        except OverflowError as exc:  # a date hierarchy year beyond any date
            raise IncorrectLookupParameters(exc) from exc
        remaining = filters[2]
        if remaining:
            raise IncorrectLookupParameters(f"Not a filter of this list: {', '.join(remaining)}")
        return filters


class OperatorModelAdmin(admin.ModelAdmin):
    """Scoped querysets and declared filters only.

    `reseller_lookups` name the paths from the model to a reseller; a user outside the root
    sees only rows whose reseller (by any of the paths) is in their subtree. A model with no
    path is the operators' alone.
    """

    reseller_lookups: tuple[str, ...] = ()

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        user = request.user
        if user.is_superuser:
            return queryset
        if not self.reseller_lookups:
            return queryset if is_operator(user) else queryset.none()
        scope = reseller_ids_visible_to(user)
        where = Q()
        for lookup in self.reseller_lookups:
            where |= Q(**{f"{lookup}__in": scope})
        return queryset.filter(where)

    def get_changelist(self, request, **kwargs):
        return DeclaredFiltersChangeList

    def get_search_results(self, request, queryset, search_term):
        if "\x00" in search_term:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)


class OperatorAdminSite(admin.AdminSite):
    site_header = _("Top-up billing administration")
    site_title = _("Top-up billing")

    def has_permission(self, request):
        return super().has_permission(request) and is_operator(request.user)

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, OperatorModelAdmin):
            admin_class = type(admin_class.__name__, (OperatorModelAdmin, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)
