"""The audit log page: who did what in the user's part of the tree, searched, and as CSV."""

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.generic import ListView

from resellers.mixins import RightRequiredMixin, StaffRequiredMixin

from .. import services
from ..audit_log import AuditEventFilter, audit_events_visible_to, event_objects, object_names
from .search import READ_ONLY_METHODS

# Details shown as the objects' links, or too technical for the table (the CSV has them all).
HIDDEN_DETAILS = {"series", "reseller", "account", "card", "job", "selection", "code", "old_path",
                  "new_path", "resellers"}  # fmt: skip


class AuditLogView(RightRequiredMixin, StaffRequiredMixin, ListView):
    """The audit log of the user's subtree (`audit_events_visible_to`), newest first."""

    permission_required = "resellers.view_auditevent"
    template_name = "topup/audit_log.html"
    paginate_by = 50
    http_method_names = READ_ONLY_METHODS

    def get_queryset(self):
        self.filterset = AuditEventFilter(
            self.request.GET or None,
            queryset=audit_events_visible_to(self.request.user),
            user=self.request.user,
        )
        if self.filterset.is_bound and not self.filterset.is_valid():
            return self.filterset.queryset.none()
        return self.filterset.qs

    def get(self, request, *args, **kwargs):
        if kwargs.get("csv"):
            events = self.get_queryset()
            if not (self.filterset.is_bound and not self.filterset.is_valid()):
                messages.success(request, gettext("Audit log CSV downloaded."))
            response = StreamingHttpResponse(
                services.csv_lines(_csv_rows(events), csv_header()), content_type="text/csv"
            )
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
            return response
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(filter=self.filterset, **kwargs)
        events = context["object_list"]
        names = object_names(self.request.user, events)
        context["rows"] = [
            {
                "event": event,
                "objects": event_objects(event, names),
                "details": _shown_details(event),
            }
            for event in events
        ]
        pairs = [(k, v) for k, v in self.request.GET.items() if k != "page" and v]
        context["query"] = urlencode(pairs)
        context["searched"] = bool(pairs)
        context["invalid"] = self.filterset.is_bound and not self.filterset.is_valid()
        return context


def _shown_details(event) -> str:
    details = event.details if isinstance(event.details, dict) else {}
    parts = []
    for key, value in details.items():
        if key in HIDDEN_DETAILS or value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)[:300]


def csv_header() -> list[str]:
    """A person reads this file: its header in their language, said now (the rows stream
    later). The cells stay as stored: ISO times, the action's code, the details as JSON."""
    return [
        gettext("when"),
        gettext("action"),
        gettext("action code"),
        gettext("user"),
        gettext("details"),
    ]


def _csv_rows(events, page_size: int = 500):
    """The filtered events, read in pages by key so that a long log streams in bounded memory."""
    last = None
    while True:
        page = events.order_by("-pk")
        if last is not None:
            page = page.filter(pk__lt=last)
        page = list(page[:page_size])
        if not page:
            return
        last = page[-1].pk
        for event in page:
            yield [
                event.created_at.isoformat(),
                event.get_action_display(),
                event.action,
                event.actor.username if event.actor else "",
                services.csv_text(json.dumps(event.details, sort_keys=True, default=str)),
            ]
