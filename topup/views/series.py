"""Series: the overview with its reconciliation, one series, generating a new one."""

import math
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from billing.models import as_money
from locales.formats import money, number
from resellers.mixins import (
    RightRequiredMixin,
    ServiceFormMixin,
    StaffRequiredMixin,
    add_service_errors,
)

from .. import services
from ..forms import SeriesDescribeForm, SeriesGenerateForm, SeriesSearchForm
from ..models import Series
from ..print_forms import language_name
from ..selectors import (
    RECONCILIATION_COLUMNS,
    reconciliation,
    series_with_counts,
)


class SeriesListView(RightRequiredMixin, StaffRequiredMixin, ListView):
    """The series overview: each series reconciled, generated against what became of it."""

    permission_required = "topup.view_series"
    template_name = "topup/series_list.html"
    paginate_by = 50

    def get_queryset(self):
        series = Series.objects.visible_to(self.request.user).select_related(
            "reseller", "created_by"
        )
        self.search = SeriesSearchForm(self.request.GET or None)
        if self.search.is_valid() and (q := self.search.cleaned_data["q"]):
            series = series.filter(Q(code__iexact=q) | Q(label__icontains=q))
        return series

    def get_context_data(self, **kwargs):
        context = super().get_context_data(
            search=self.search,
            query=urlencode({"q": self.search.cleaned_data["q"]}) if self.search.is_valid() else "",
            can_generate=self.request.user.has_perm("topup.generate_series"),
            columns=RECONCILIATION_COLUMNS,
            **kwargs,
        )
        series = series_with_counts(self.request.user, list(context["object_list"]))
        context["object_list"] = series
        context["rows"] = [
            (s, row["generated"], [row[key] for key, _ in RECONCILIATION_COLUMNS], row["elsewhere"])
            for s in series
            for row in [reconciliation(s)]
        ]
        return context


class SeriesReconciliationView(RightRequiredMixin, StaffRequiredMixin, View):
    """The reconciliation of every series in scope as CSV: generated against what became of it."""

    permission_required = "topup.view_series"

    def get(self, request):
        messages.success(request, gettext("Reconciliation CSV downloaded."))
        response = StreamingHttpResponse(
            # The header is said now, in the user's language; the rows stream later.
            services.csv_lines(_reconciliation_rows(request.user, reconciliation_header())),
            content_type="text/csv",
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="reconciliation-{stamp}.csv"'
        return response


def reconciliation_header() -> list[str]:
    """The reconciliation CSV's header: a person reads it, so it is in their language; the
    cells stay plain (ISO times, decimals with a point, the state's code)."""

    def with_value(heading) -> list[str]:
        return [heading, gettext("%(column)s value") % {"column": heading}]

    return [
        gettext("series"), gettext("label"), gettext("notes"), gettext("first card"),
        gettext("last card"), gettext("reseller"), gettext("currency"), gettext("amount"),
        *with_value(gettext("generated")),
        *(part for _key, heading in RECONCILIATION_COLUMNS
          for part in with_value(str(heading).lower())),
        *with_value(gettext("deleted or elsewhere")),
        gettext("outstanding"), gettext("created"), gettext("created by"), gettext("state"),
    ]  # fmt: skip


def _reconciliation_rows(user, header: list[str], page_size: int = 500):
    yield header
    series = Series.objects.visible_to(user).select_related("reseller", "created_by").order_by("pk")
    last = 0
    while page := list(series.filter(pk__gt=last)[:page_size]):
        last = page[-1].pk
        for s in series_with_counts(user, page):
            row = reconciliation(s)
            yield [
                s.code,
                services.csv_text(s.label),
                services.csv_text(s.notes),
                f"{s.code}-{s.first_number:08d}",
                f"{s.code}-{s.last_number:08d}",
                s.reseller.name,
                s.currency,
                s.amount,
                *row["generated"],
                *(part for key, _ in RECONCILIATION_COLUMNS for part in row[key]),
                *row["elsewhere"],
                as_money(s.outstanding),
                s.created_at.isoformat(),
                s.created_by.username if s.created_by else "",
                s.state,
            ]


class SeriesDetailView(RightRequiredMixin, StaffRequiredMixin, DetailView):
    permission_required = "topup.view_series"
    template_name = "topup/series_detail.html"
    context_object_name = "series"

    def get_queryset(self):
        return Series.objects.visible_to(self.request.user).select_related("reseller", "created_by")

    def get_context_data(self, **kwargs):
        series = self.object
        percent = math.floor(100 * series.progress / series.quantity) if series.quantity else 0
        user = self.request.user
        # The whole series as a serial range: release or void it like any search.
        whole = urlencode(
            {
                "apply_to": "search",
                "serials_min": f"{series.code}-{series.first_number:08d}",
                "serials_max": f"{series.code}-{series.last_number:08d}",
            }
        )
        return super().get_context_data(
            percent=percent,
            working=series.working,
            whole=whole,
            can_release=user.has_perm("topup.release_cards"),
            can_void=user.has_perm("topup.void_cards"),
            can_describe=user.has_perm("topup.generate_series"),
            describe_form=kwargs.pop("describe_form", None)
            or SeriesDescribeForm(
                initial={"label": series.label, "notes": series.notes, "language": series.language}
            ),
            language_name=language_name(series.language),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        """Edit the label and notes (the generate right); the page again, with the outcome."""
        self.object = self.get_object()
        form = SeriesDescribeForm(request.POST)
        if form.is_valid():
            try:
                data = form.cleaned_data
                series, changed = services.series_describe(
                    user=request.user,
                    series_id=self.object.pk,
                    label=data["label"],
                    notes=data["notes"],
                    language=data["language"] or None,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                if changed:
                    messages.success(
                        request,
                        gettext("Series %(code)s: label, notes and printed language saved.")
                        % {"code": series.code},
                    )
                else:
                    messages.info(
                        request,
                        gettext(
                            "Nothing changed: the label, notes and printed language are as they "
                            "were."
                        ),
                    )
                return redirect("topup:series-detail", pk=series.pk)
        return self.render_to_response(self.get_context_data(describe_form=form))


class SeriesGenerateView(ServiceFormMixin, RightRequiredMixin, StaffRequiredMixin, FormView):
    permission_required = ("topup.view_series", "topup.generate_series")
    template_name = "topup/series_generate.html"
    form_class = SeriesGenerateForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The codes the user's series use, with the number each would continue from (for the
        # preview of a refused form); a new code starts at 1.
        codes = (
            Series.objects.visible_to(self.request.user).order_by().values_list("code", flat=True)
        )
        context["next_numbers"] = services.next_numbers(set(codes))
        context["preview"] = _generate_preview(context["form"], context["next_numbers"])
        return context

    def perform(self, data):
        series = services.series_generate(
            user=self.request.user, request=services.SeriesRequest(**data)
        )
        values = {"code": series.code, "n": number(series.quantity)}
        if series.state == Series.State.DONE and series.in_stock:
            messages.success(
                self.request,
                ngettext(
                    "Series %(code)s: %(n)s card generated, in stock until released.",
                    "Series %(code)s: %(n)s cards generated, in stock until released.",
                    series.quantity,
                )
                % values,
            )
        elif series.state == Series.State.DONE:
            messages.success(
                self.request,
                ngettext(
                    "Series %(code)s: %(n)s card generated, released for sale.",
                    "Series %(code)s: %(n)s cards generated, released for sale.",
                    series.quantity,
                )
                % values,
            )
        else:
            messages.info(
                self.request,
                ngettext(
                    "Series %(code)s: %(n)s card is being generated.",
                    "Series %(code)s: %(n)s cards are being generated.",
                    series.quantity,
                )
                % values,
            )
        return redirect("topup:series-detail", pk=series.pk)


class SeriesPreviewView(SeriesGenerateView):
    """The generate form's live preview, in the user's language: the page's script sends the
    fields as they are typed and shows the sentence (`_generate_preview`, its one home)."""

    http_method_names = ["get"]

    def get(self, request, *args, **kwargs):
        form = self.form_class(data=request.GET, user=request.user)
        form.is_valid()  # the preview says what it can of a form still being typed
        codes = Series.objects.visible_to(request.user).order_by().values_list("code", flat=True)
        code = request.GET.get("code", "")
        next_numbers = services.next_numbers({code} & set(codes)) if code else {}
        return JsonResponse({"preview": _generate_preview(form, next_numbers)})


def _generate_preview(form, next_numbers: dict[str, int]) -> str:
    """What a submitted (refused) form would have generated, in words; "" until it can say."""
    if not form.is_bound:
        return ""
    data = {name: form.cleaned_data.get(name) for name in ("amount", "quantity", "code")}
    if any(data[name] in (None, "") for name in data):
        return ""
    reseller = form.cleaned_data.get("reseller")
    currency = form.cleaned_data.get("currency") or (reseller.currency if reseller else "")
    first = next_numbers.get(data["code"], 1)
    last = first + data["quantity"] - 1
    total = as_money(data["amount"] * data["quantity"])
    return ngettext(
        "%(n)s card × %(amount)s = %(total)s; card number %(first)s.",
        "%(n)s cards × %(amount)s = %(total)s; card numbers %(first)s to %(last)s.",
        data["quantity"],
    ) % {
        "n": number(data["quantity"]),
        "amount": money(data["amount"], currency) if currency else number(data["amount"], 2),
        "total": money(total, currency) if currency else number(total, 2),
        "first": f"{data['code']}-{first:08d}",
        "last": f"{data['code']}-{last:08d}",
    }
