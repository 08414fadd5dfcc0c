"""The audit log as the panel shows it: whose events a user sees, the search, links to objects.

An event belongs to a reseller when its actor is a staff user of that reseller, when its
details name the reseller (`reseller`: series generated for it, users, accounts and API keys
opened in it), or when they name an account of it (`account`: redemptions, balance
adjustments, redeem rights). Events tied to no reseller (the purge command, print shops)
belong to the root company. A user sees the events of every reseller of its subtree: the
root company's staff see every event.
"""

from urllib.parse import urlencode

import django_filters
from django.db.models import BigIntegerField, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.models import Account
from resellers.models import AuditEvent, Reseller
from resellers.scoping import reseller_ids_visible_to

from .filters import DATE_RANGE, DateRangeFilter, range_end_label
from .models import Card, CardEventRange, Series


def audit_events_visible_to(user) -> QuerySet[AuditEvent]:
    """The events of the user's subtree (see the module's docstring), newest first."""
    if not user.is_authenticated or user.reseller_id is None:
        return AuditEvent.objects.none()
    events = AuditEvent.objects.select_related("actor")
    if user.reseller.parent_id is None:
        return events
    ids = reseller_ids_visible_to(user)
    return events.annotate(
        reseller_key=Cast(KT("details__reseller"), BigIntegerField()),
        account_key=Cast(KT("details__account"), BigIntegerField()),
    ).filter(
        Q(actor__reseller_id__in=ids)
        | Q(reseller_key__in=ids)
        | Q(account_key__in=Account.objects.filter(reseller_id__in=ids).values("pk"))
    )


class AuditEventFilter(django_filters.FilterSet):
    """The audit log's search; every field bounded, every object looked up within scope."""

    action = django_filters.ChoiceFilter(label=_("Action"), choices=AuditEvent.Action.choices)
    user = django_filters.CharFilter(
        label=_("By user"), field_name="actor__username", lookup_expr="iexact", max_length=150,
        help_text=_("The username of who did it."),
    )  # fmt: skip
    created = DateRangeFilter(label=_("Date"), field_name="created_at", widget=DATE_RANGE)
    series = django_filters.CharFilter(
        label=_("Series code"), method="filter_series", max_length=20
    )
    card = django_filters.CharFilter(
        label=_("Card serial number"), method="filter_card", max_length=40,
        help_text=_("The whole number, e.g. 101-00000001."),
    )  # fmt: skip
    reseller = django_filters.ModelChoiceFilter(
        label=_("Reseller"), queryset=Reseller.objects.none(), method="filter_reseller"
    )
    account = django_filters.CharFilter(
        label=_("Customer account number"), method="filter_account", max_length=12
    )

    class Meta:
        model = AuditEvent
        fields = []

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.filters["reseller"].queryset = Reseller.objects.visible_to(user)
        field = self.form.fields["created"]
        first, second = field.widget.widgets
        first.attrs = {**first.attrs, "aria-label": range_end_label(field.label, "from")}
        second.attrs = {**second.attrs, "aria-label": range_end_label(field.label, "to")}

    def filter_series(self, queryset, name, value):
        ids = (
            Series.objects.visible_to(self.user)
            .filter(code=value.strip())
            .values_list("pk", flat=True)
        )
        return queryset.filter(details__series__in=list(ids))

    def filter_card(self, queryset, name, value):
        card = Card.objects.visible_to(self.user).filter(number=value.strip()).only("pk").first()
        if card is None:  # not in scope (or gone): only events naming the serial itself
            return queryset.filter(details__card=value.strip())
        runs = CardEventRange.touching(card.pk)
        events = [run.event_id for run in runs if run.event_id]
        jobs = [run.job_id for run in runs if run.job_id]
        return queryset.filter(
            Q(details__card=value.strip()) | Q(pk__in=events) | Q(details__job__in=jobs)
        )

    def filter_reseller(self, queryset, name, value):
        return queryset.filter(Q(details__reseller=value.pk) | Q(actor__reseller_id=value.pk))

    def filter_account(self, queryset, name, value):
        ids = (
            Account.objects.visible_to(self.user)
            .filter(number=value.strip())
            .values_list("pk", flat=True)
        )
        return queryset.filter(details__account__in=list(ids))


# The objects an event's details name, as (key, label, URL name).
OBJECT_LINKS = [
    ("series", _("Series"), "topup:series-detail"),
    ("reseller", _("Reseller"), "resellers:reseller-detail"),
    ("account", _("Account"), "billing:account-detail"),
]


def object_names(user, events) -> dict[tuple[str, int], str]:
    """The names of the objects the events name that the user may open, by (key, pk): two
    queries for a page of events. An object missing here is gone or outside the user's part
    of the tree: it is shown by its number, without a link."""
    wanted = {key: set() for key, _, _ in OBJECT_LINKS}
    for event in events:
        details = event.details if isinstance(event.details, dict) else {}
        for key in wanted:
            if isinstance(details.get(key), int):
                wanted[key].add(details[key])
    names = {}
    visible = {
        "series": Series.objects.visible_to(user),
        "reseller": Reseller.objects.visible_to(user),
        "account": Account.objects.visible_to(user),
    }
    shown = {"series": "code", "reseller": "name", "account": "name"}
    for key, pks in wanted.items():
        if pks:
            rows = visible[key].filter(pk__in=pks).values_list("pk", shown[key])
            names.update({(key, pk): name for pk, name in rows})
    return names


def event_objects(event: AuditEvent, names: dict[tuple[str, int], str]) -> list[dict]:
    """The objects an event names, each {"label", "text", "url"} (url empty: no page)."""
    details = event.details if isinstance(event.details, dict) else {}
    objects = []
    for key, label, url_name in OBJECT_LINKS:
        value = details.get(key)
        if isinstance(value, int):
            name = names.get((key, value))
            text, url = (name, reverse(url_name, args=[value])) if name else (f"#{value}", "")
            objects.append({"label": label, "text": text, "url": url})
    if isinstance(card := details.get("card"), str) and card:  # "" when no card matched
        url = f"{reverse('topup:card-find')}?{urlencode({'number': card})}"
        objects.append({"label": gettext("Card"), "text": card, "url": url})
    selection = details.get("selection")
    if isinstance(selection, dict) and isinstance(search := selection.get("search"), str):
        url = f"{reverse('topup:card-list')}?{search}"
        objects.append({"label": gettext("Cards"), "text": gettext("of that search"), "url": url})
    bulk = event.action.startswith("cards.") and event.action != AuditEvent.Action.SHEET_DOWNLOADED
    if isinstance(job := details.get("job"), int) and bulk:
        url = reverse("topup:bulk-job-detail", args=[job])
        objects.append({"label": gettext("Background job"), "text": str(job), "url": url})
    return objects
