import math
from dataclasses import fields
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.translation import ngettext
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.generic import DetailView, FormView, ListView, TemplateView

from billing.models import as_money
from billing.selectors import accounts_visible_to
from billing.views import CustomerAccountMixin
from config.client_address import client_address
from resellers.mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin
from resellers.scoping import is_staff_member

from . import card_list_plan, charts, reports, services
from .filters import CardFilter, search_chips
from .forms import (
    CardFindForm,
    CardSelectionForm,
    EncryptedExportForm,
    LiabilityReportForm,
    LockoutLiftForm,
    MassEditForm,
    PrintSheetForm,
    PrintShopForm,
    RedeemForm,
    ReleaseForm,
    SeriesGenerateForm,
    SupportRedeemForm,
)
from .models import PrintShop, Series, SheetJob
from .paging import card_page
from .selectors import (
    RECONCILIATION_COLUMNS,
    attempts_visible_to,
    bulk_jobs_visible_to,
    card_history,
    cards_for_selection,
    cards_visible_to,
    reconciliation,
    selection_value,
    series_visible_to,
    series_with_counts,
    sheet_jobs_visible_to,
    summary_totals,
    summary_visible_to,
)

SEARCH_PARAMS = ("page", "after", "before", "card", "apply_to")


# Pages whose form is a search (GET): a POST to them is 405, never a FormView without a success URL.
READ_ONLY_METHODS = ["get", "head", "options"]


class CardSearchMixin(StaffRequiredMixin):
    """The card search from the query string, shared by the list, export, mass edit, delete."""

    filterset_class = CardFilter
    selection_form_class = CardSelectionForm

    @cached_property
    def filterset(self) -> CardFilter:
        data = self.request.GET.copy()
        for param in SEARCH_PARAMS:
            data.pop(param, None)
        return self.filterset_class(
            data or None, queryset=cards_visible_to(self.request.user), user=self.request.user
        )

    @cached_property
    def search_pairs(self) -> list[tuple[str, str]]:
        """The search alone (no page, no ticked cards), as (name, value) pairs."""
        return [
            (name, value)
            for name, values in self.request.GET.lists()
            if name not in SEARCH_PARAMS
            for value in values
            if value
        ]

    @cached_property
    def search_query(self) -> str:
        return urlencode(self.search_pairs)

    @cached_property
    def search_chips(self) -> list[dict]:
        return search_chips(self.filterset, self.search_pairs)

    @cached_property
    def selection(self):
        """(cards, description) chosen by the query string: ticked ids or the whole search.

        Raises ValidationError with a message for the user when the selection is unusable.
        """
        form = self.selection_form_class(
            self.request.GET, cards=cards_visible_to(self.request.user)
        )
        if not form.is_valid():
            raise ValidationError(next(iter(form.errors.values()))[0])
        if form.cleaned_data["apply_to"] == "selected":
            details = {"cards": form.cleaned_data["card"]}
        else:
            details = {"search": self.search_query}
        return cards_for_selection(self.request.user, details), details


class CardListView(RightRequiredMixin, CardSearchMixin, TemplateView):
    permission_required = "topup.view_card"
    template_name = "topup/card_list.html"
    paginate_by = 50

    def get_context_data(self, **kwargs):
        filterset = self.filterset
        user = self.request.user
        valid = not filterset.is_bound or filterset.is_valid()
        cards = filterset.qs if valid else cards_visible_to(user).none()
        rows = filterset.summary_rows(summary_visible_to(user)) if valid else None
        # The summary answers most searches at once; the others count at most 10,000 cards.
        totals, scanned = None, False
        if rows is not None:
            totals = summary_totals(rows)
        else:
            totals = card_list_plan.hour_totals(filterset, user)
        known = totals["count"] if totals is not None else None
        plan = card_list_plan.plan_page(filterset, cards, count=known)
        if totals is None:
            totals, scanned = card_list_plan.bounded_totals(cards, plan), valid
        paged = card_page(
            plan.ordered,
            plan=plan,
            count=totals["count"],
            per_page=self.paginate_by,
            number=self.request.GET.get("page"),
            after=self.request.GET.get("after", ""),
            before=self.request.GET.get("before", ""),
        )
        return super().get_context_data(
            filter=filterset,
            search_valid=valid,
            page_obj=paged.page,
            cards=paged.cards,
            next_cursor=paged.next_cursor,
            previous_cursor=paged.previous_cursor,
            totals=totals,
            totals_scanned=scanned,
            plan_notice=plan.notice,
            search_query=self.search_query,
            search_pairs=self.search_pairs,
            search_chips=self.search_chips,
            sort_query=urlencode([(k, v) for k, v in self.search_pairs if k != "sort"]),
            current_sort=self.request.GET.get("sort", ""),
            can_mass_edit=user.has_perm("topup.mass_edit_cards"),
            can_delete=user.has_perm("topup.delete_card"),
            can_release=user.has_perm("topup.release_cards"),
            can_void=user.has_perm("topup.void_cards"),
            can_reveal=user.has_perm("topup.reveal_pin"),
            can_export_plaintext=settings.EXPORT_PLAINTEXT_ALLOWED,
            can_generate=user.has_perm("topup.generate_series"),
            **kwargs,
        )


class CardDetailView(RightRequiredMixin, StaffRequiredMixin, DetailView):
    """One card and its history, in order; reached from the list or by its serial number."""

    permission_required = "topup.view_card"
    template_name = "topup/card_detail.html"
    context_object_name = "card"

    def get_queryset(self):
        return (
            cards_visible_to(self.request.user)
            .with_display_status()
            .select_related("series__created_by", "reseller", "activated_by")
        )

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            history=card_history(user, self.object),
            can_reveal=user.has_perm("topup.reveal_pin"),
            find_form=CardFindForm(),
            **kwargs,
        )


class CardFindView(RightRequiredMixin, StaffRequiredMixin, FormView):
    """Type a serial number, see that card's history (if it is in your part of the tree)."""

    permission_required = "topup.view_card"
    template_name = "topup/card_find.html"
    form_class = CardFindForm
    http_method_names = READ_ONLY_METHODS

    def get(self, request, *args, **kwargs):
        if "number" not in request.GET:
            return super().get(request, *args, **kwargs)
        form = CardFindForm(request.GET)
        if form.is_valid():
            number = form.cleaned_data["number"]
            card = cards_visible_to(request.user).filter(number=number).first()
            if card is not None:
                return redirect("topup:card-detail", pk=card.pk)
            form.add_error("number", "No card with this serial number in your part of the tree.")
        return self.render_to_response(self.get_context_data(form=form))


class CardRevealView(RightRequiredMixin, StaffRequiredMixin, View):
    permission_required = ("topup.view_card", "topup.reveal_pin")

    @method_decorator(sensitive_variables("pin"))
    def post(self, request, pk):
        card = get_object_or_404(cards_visible_to(request.user), pk=pk)
        try:
            pin = services.card_reveal_pin(user=request.user, card=card)
        except ValidationError as exc:  # four eyes: the refusal says why
            messages.error(request, exc.messages[0])
            return redirect("topup:card-detail", pk=card.pk)
        response = render(request, "topup/card_reveal.html", {"card": card, "pin": pin})
        response["Cache-Control"] = "no-store"
        return response


def _download(response, extension: str):
    """An attachment that no cache keeps: it holds PINs."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="cards-{stamp}.{extension}"'
    response["Cache-Control"] = "no-store"
    return response


class CardSelectionView(RightRequiredMixin, CardSearchMixin, FormView):
    """Common ground of mass edit and delete: the selection, its count, the way back."""

    def dispatch(self, request, *args, **kwargs):
        if not self.has_permission():
            return self.handle_no_permission()
        if is_staff_member(request.user):
            try:
                self.cards, self.selection_details = self.selection
            except ValidationError as exc:
                messages.error(request, exc.messages[0])
                return redirect(self.list_url)
        return super().dispatch(request, *args, **kwargs)

    @property
    def list_url(self) -> str:
        return f"{reverse('topup:card-list')}?{self.search_query}"

    # The bulk action this page applies (its may-change rule makes the preview's counts).
    action: type | None = None

    def get_context_data(self, **kwargs):
        kept = ~self.action().may_change() if self.action else Q(status="activated")
        counts = self.cards.aggregate(total=Count("pk"), skipped=Count("pk", filter=kept))
        return super().get_context_data(
            count=counts["total"],
            activated=counts["skipped"],
            changeable=counts["total"] - counts["skipped"],
            skip_note=self.action.skipped_because() if self.action else "",
            selection=self.selection_details,
            search_chips=self.search_chips,
            list_url=self.list_url,
            **kwargs,
        )

    def four_eyes_refusal(self, action: str) -> str:
        """Four eyes' refusal for these cards, said before the user asks; "" when allowed."""
        try:
            services.four_eyes_check(user=self.request.user, cards=self.cards, action=action)
        except ValidationError as exc:
            return exc.messages[0]
        return ""

    def report(self, result, action):
        """The outcome for the user: the counts, or the background job's page."""
        if result.job is not None:
            messages.info(
                self.request,
                "This selection is large: it is being processed in the background. "
                "This page shows its progress and result.",
            )
            return redirect("topup:bulk-job-detail", pk=result.job.pk)
        text = ngettext("%(n)s card %(verb)s.", "%(n)s cards %(verb)s.", result.changed) % {
            "n": f"{result.changed:,}",
            "verb": action.verb,
        }
        if result.skipped:
            text += " " + ngettext(
                "%(n)s card skipped: %(why)s.", "%(n)s cards skipped: %(why)s.", result.skipped
            ) % {"n": f"{result.skipped:,}", "why": action.skipped_because()}
        messages.success(self.request, text)
        return redirect(self.list_url)


class CardMassEditView(ServiceFormMixin, CardSelectionView):
    permission_required = ("topup.view_card", "topup.mass_edit_cards")
    action = services.MassEdit
    template_name = "topup/card_mass_edit.html"
    form_class = MassEditForm

    def perform(self, data):
        edit = services.MassEdit(**{f.name: data[f.name] for f in fields(services.MassEdit)})
        result = services.cards_mass_update(
            user=self.request.user,
            cards=self.cards,
            edit=edit,
            selection=self.selection_details,
        )
        return self.report(result, services.MassEdit)


class CardLifecycleView(CardSelectionView):
    """Release or void: the count and value that would change first, then the action."""

    action: type  # services.Release or services.Void

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The cards are the search within the user's scope (cards_visible_to).
        will_change = selection_value(self.cards, self.action().may_change())
        context.update(
            will_change=will_change,
            skipped=context["count"] - will_change["count"],
            verb=self.action.verb,
            skip_note=self.action.skipped_because(),
        )
        return context


class CardReleaseView(ServiceFormMixin, CardLifecycleView):
    permission_required = ("topup.view_card", "topup.release_cards")
    template_name = "topup/card_release.html"
    form_class = ReleaseForm
    action = services.Release

    def get_context_data(self, **kwargs):
        return super().get_context_data(refusal=self.four_eyes_refusal("release"), **kwargs)

    def perform(self, data):
        result = services.cards_release(
            user=self.request.user,
            cards=self.cards,
            selection=self.selection_details,
            reseller=data["reseller"],
        )
        return self.report(result, services.Release)


class CardVoidView(CardLifecycleView):
    permission_required = ("topup.view_card", "topup.void_cards")
    template_name = "topup/card_void.html"
    form_class = forms.Form  # the confirmation is the POST itself
    action = services.Void

    def form_valid(self, form):
        try:
            result = services.cards_void(
                user=self.request.user, cards=self.cards, selection=self.selection_details
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        return self.report(result, services.Void)


class CardDeleteView(CardSelectionView):
    permission_required = ("topup.view_card", "topup.delete_card")
    action = services.Delete
    template_name = "topup/card_delete.html"
    form_class = forms.Form  # the confirmation is the POST itself

    def form_valid(self, form):
        try:
            result = services.cards_delete(
                user=self.request.user, cards=self.cards, selection=self.selection_details
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        return self.report(result, services.Delete)


class BulkJobListView(StaffRequiredMixin, ListView):
    """Recent background bulk actions in the user's part of the tree."""

    template_name = "topup/bulk_job_list.html"
    paginate_by = 50

    def get_queryset(self):
        return bulk_jobs_visible_to(self.request.user).select_related("created_by")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for job in context["object_list"]:
            action = services.BULK_ACTIONS.get(job.kind)
            job.title = action.title if action else job.kind
        return context


class BulkJobDetailView(StaffRequiredMixin, DetailView):
    """A background bulk action: its progress, then its result (changed / skipped)."""

    template_name = "topup/bulk_job_detail.html"
    context_object_name = "job"

    def get_queryset(self):
        return bulk_jobs_visible_to(self.request.user).select_related("created_by")

    def get_context_data(self, **kwargs):
        job = self.object
        action = services.BULK_ACTIONS.get(job.kind)
        try:
            summary = action.from_description(job.params).summary() if action else job.kind
        except ValidationError:
            summary = action.title
        verb = action.verb if action else "changed"
        skip_note = action.skipped_because() if action else ""
        search = job.selection.get("search")
        total = job.total or 0
        return super().get_context_data(
            summary=summary,
            verb=verb,
            skip_note=skip_note,
            percent=math.floor(100 * job.selected / total) if total else 0,
            list_url=f"{reverse('topup:card-list')}?{search}" if search is not None else "",
            **kwargs,
        )


class CardExportView(CardSelectionView):
    """The cards of the current search (or the ticked ones) as CSV with PINs, streamed.

    The GET only shows what would be exported; the export itself is a POST with its CSRF
    token, so no link or image on another page can make a signed-in browser record one.
    """

    permission_required = ("topup.view_card", "topup.reveal_pin")
    template_name = "topup/card_export.html"
    form_class = forms.Form  # the confirmation is the POST itself

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            refusal=self.four_eyes_refusal("export the PINs of"),
            plaintext_allowed=settings.EXPORT_PLAINTEXT_ALLOWED,
            **kwargs,
        )

    def form_valid(self, form):
        try:
            lines = services.cards_export_csv(
                user=self.request.user, cards=self.cards, selection=self.selection_details
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        return _download(StreamingHttpResponse(lines, content_type="text/csv"), "csv")


class CardPrintView(ServiceFormMixin, CardSelectionView):
    """Card sheets as PDF: small ones at once, large ones through the task worker."""

    permission_required = ("topup.view_card", "topup.reveal_pin")
    template_name = "topup/card_print.html"
    form_class = PrintSheetForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            refusal=self.four_eyes_refusal("print the PINs of"), **kwargs
        )

    def perform(self, data):
        link = settings.TOPUP_PAYMENT_URL or self.request.build_absolute_uri(
            reverse("topup:payment-gateways")
        )
        result = services.cards_print(
            user=self.request.user,
            cards=self.cards,
            selection=self.selection_details,
            layout=services.SheetLayout(**data, link=link),
        )
        if result.job is not None:
            messages.info(
                self.request,
                f"{result.count:,} cards ({result.pages:,} pages) are being rendered; "
                "download the sheet here when it is ready.",
            )
            return redirect("topup:sheet-detail", pk=result.job.pk)
        return _download(HttpResponse(result.pdf, content_type="application/pdf"), "pdf")


class SheetJobDetailView(RightRequiredMixin, StaffRequiredMixin, DetailView):
    """A large sheet's progress, then its download button; only for the user who asked."""

    permission_required = "topup.reveal_pin"
    template_name = "topup/sheet_detail.html"
    context_object_name = "job"

    def get_queryset(self):
        return sheet_jobs_visible_to(self.request.user)

    def get_context_data(self, **kwargs):
        job = self.object
        return super().get_context_data(
            percent=math.floor(100 * job.progress / job.total) if job.total else 0,
            working=job.state in (SheetJob.State.PENDING, SheetJob.State.RUNNING),
            **kwargs,
        )


class SheetJobDownloadView(RightRequiredMixin, StaffRequiredMixin, View):
    permission_required = "topup.reveal_pin"

    def post(self, request, pk):
        job = get_object_or_404(sheet_jobs_visible_to(request.user), pk=pk)
        try:
            chunks = services.sheet_job_download(user=request.user, job=job)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return redirect("topup:sheet-detail", pk=job.pk)
        return _download(StreamingHttpResponse(chunks, content_type="application/pdf"), "pdf")


class CardExportEncryptedView(ServiceFormMixin, CardSelectionView):
    """The export CSV encrypted to a registered print shop's OpenPGP key (.csv.gpg)."""

    permission_required = ("topup.view_card", "topup.reveal_pin")
    template_name = "topup/card_export_encrypted.html"
    form_class = EncryptedExportForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_manage_shops=self.request.user.has_perm("topup.add_printshop"),
            refusal=self.four_eyes_refusal("export the PINs of"),
            **kwargs,
        )

    def perform(self, data):
        chunks = services.cards_export_encrypted(
            user=self.request.user,
            cards=self.cards,
            selection=self.selection_details,
            shop=data["shop"],
        )
        response = StreamingHttpResponse(chunks, content_type="application/pgp-encrypted")
        return _download(response, "csv.gpg")


class PrintShopListView(ServiceFormMixin, RightRequiredMixin, StaffRequiredMixin, FormView):
    """Operators: the registered print shops and their key fingerprints; add one."""

    permission_required = "topup.view_printshop"
    template_name = "topup/printshop_list.html"
    form_class = PrintShopForm

    def post(self, request, *args, **kwargs):
        if not request.user.has_perm("topup.add_printshop"):
            raise PermissionDenied
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            shops=PrintShop.objects.all(),
            can_add=user.has_perm("topup.add_printshop"),
            can_delete=user.has_perm("topup.delete_printshop"),
            **kwargs,
        )

    def perform(self, data):
        shop = services.print_shop_add(
            user=self.request.user, name=data["name"], public_key=data["public_key"]
        )
        messages.success(
            self.request, f"{shop.name} registered; key fingerprint {shop.fingerprint_display}."
        )
        return redirect("topup:printshop-list")


class PrintShopDeleteView(RightRequiredMixin, StaffRequiredMixin, View):
    permission_required = "topup.delete_printshop"

    def post(self, request, pk):
        shop = get_object_or_404(PrintShop, pk=pk)
        services.print_shop_delete(user=request.user, shop=shop)
        messages.success(request, f"{shop.name} removed.")
        return redirect("topup:printshop-list")


class SeriesListView(RightRequiredMixin, StaffRequiredMixin, ListView):
    """The series overview: each series reconciled, generated against what became of it."""

    permission_required = "topup.view_series"
    template_name = "topup/series_list.html"
    paginate_by = 50

    def get_queryset(self):
        return series_visible_to(self.request.user).select_related("reseller", "created_by")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(
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
        response = StreamingHttpResponse(
            services.csv_lines(_reconciliation_rows(request.user)), content_type="text/csv"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="reconciliation-{stamp}.csv"'
        return response


def _reconciliation_rows(user, page_size: int = 500):
    yield [
        "series", "first card", "last card", "reseller", "currency", "amount",
        "generated", "generated value",
        *(f"{heading.lower()}{suffix}" for _, heading in RECONCILIATION_COLUMNS
          for suffix in ("", " value")),
        "deleted or elsewhere", "deleted or elsewhere value",
        "outstanding", "created", "created by", "state",
    ]  # fmt: skip
    series = series_visible_to(user).select_related("reseller", "created_by").order_by("pk")
    last = 0
    while page := list(series.filter(pk__gt=last)[:page_size]):
        last = page[-1].pk
        for s in series_with_counts(user, page):
            row = reconciliation(s)
            yield [
                s.code,
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
        return series_visible_to(self.request.user).select_related("reseller", "created_by")

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
            working=series.state in (Series.State.PENDING, Series.State.RUNNING),
            whole=whole,
            can_release=user.has_perm("topup.release_cards"),
            can_void=user.has_perm("topup.void_cards"),
            **kwargs,
        )


class SeriesGenerateView(ServiceFormMixin, RightRequiredMixin, StaffRequiredMixin, FormView):
    permission_required = ("topup.view_series", "topup.generate_series")
    template_name = "topup/series_generate.html"
    form_class = SeriesGenerateForm

    def perform(self, data):
        series = services.series_generate(
            user=self.request.user, request=services.SeriesRequest(**data)
        )
        if series.state == Series.State.DONE:
            messages.success(
                self.request,
                f"Series {series.code}: {series.quantity:,} cards generated"
                + (", in stock until released." if series.in_stock else ", released for sale."),
            )
        else:
            messages.info(
                self.request,
                f"Series {series.code}: {series.quantity:,} cards are being generated.",
            )
        return redirect("topup:series-detail", pk=series.pk)


def _locked_out(view, form, retry_after: int):
    """The form again, with HTTP 429 and Retry-After: the lockout holds, the PIN was not read."""
    minutes = math.ceil(retry_after / 60)
    form.add_error(
        None,
        ngettext(
            "Too many failed attempts. Try again in about %(n)s minute.",
            "Too many failed attempts. Try again in about %(n)s minutes.",
            minutes,
        )
        % {"n": minutes},
    )
    response = view.render_to_response(view.get_context_data(form=form), status=429)
    response["Retry-After"] = str(retry_after)
    return response


# A PIN typed by a customer never reaches an error report or a log.
@method_decorator(sensitive_post_parameters("pin"), name="dispatch")
class PaymentGatewaysView(RightRequiredMixin, CustomerAccountMixin, FormView):
    """The customer's Payment Gateways page, with the top-up card gateway."""

    permission_required = "topup.redeem_card"
    template_name = "topup/payment_gateways.html"
    form_class = RedeemForm

    GENERIC_REFUSAL = (
        "This PIN cannot be used. Check the digits and try again; "
        "if it still fails, contact your provider."
    )

    def form_valid(self, form):
        result = services.card_redeem(
            account=self.account,
            typed_pin=form.cleaned_data["pin"],
            client_address=client_address(self.request),
            user=self.request.user,
        )
        if result.outcome == "locked":
            return _locked_out(self, form, result.retry_after)
        if result.outcome == "success":
            messages.success(
                self.request,
                f"{result.amount} {self.account.currency} added to your balance. "
                f"New balance: {result.balance} {self.account.currency}.",
            )
            return redirect("topup:payment-gateways")
        if result.outcome == "already":
            messages.info(
                self.request,
                f"This card was already credited to your account ({result.amount} "
                f"{self.account.currency}); nothing was added again.",
            )
            return redirect("topup:payment-gateways")
        form.add_error("pin", self.GENERIC_REFUSAL)
        return self.form_invalid(form)


@method_decorator(sensitive_post_parameters("pin"), name="dispatch")
class SupportRedeemView(RightRequiredMixin, StaffRequiredMixin, FormView):
    """Staff redeem a card for a customer account in their scope (the PIN read over the phone).

    The same `card_redeem` as the customer's page: same refusal, ledger row and lockout.
    """

    permission_required = ("billing.view_account", "topup.redeem_for_customer")
    template_name = "topup/support_redeem.html"
    form_class = SupportRedeemForm

    @cached_property
    def account(self):
        return get_object_or_404(accounts_visible_to(self.request.user), pk=self.kwargs["account"])

    def get_context_data(self, **kwargs):
        return super().get_context_data(account=self.account, **kwargs)

    def form_valid(self, form):
        try:
            result = services.card_redeem(
                account=self.account,
                typed_pin=form.cleaned_data["pin"],
                client_address=client_address(self.request),
                user=self.request.user,
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        currency = self.account.currency
        if result.outcome == "locked":
            return _locked_out(self, form, result.retry_after)
        if result.outcome == "success":
            messages.success(
                self.request,
                f"Card {result.card_number}: {result.amount} {currency} added to "
                f"{self.account.name}. New balance: {result.balance} {currency}.",
            )
            return redirect("topup:support-redeem", account=self.account.pk)
        form.add_error("pin", PaymentGatewaysView.GENERIC_REFUSAL)
        return self.form_invalid(form)


class AttemptListView(RightRequiredMixin, StaffRequiredMixin, ListView):
    """Operators: recent redemption attempts and active lockouts."""

    permission_required = "topup.view_redemptionattempt"
    template_name = "topup/attempt_list.html"
    paginate_by = 50

    def get_queryset(self):
        return attempts_visible_to(self.request.user)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            lockouts=services.active_lockouts(self.get_queryset()),
            can_lift=self.request.user.has_perm("topup.lift_lockout"),
            **kwargs,
        )


class LockoutLiftView(RightRequiredMixin, StaffRequiredMixin, View):
    permission_required = "topup.lift_lockout"
    form_class = LockoutLiftForm

    def post(self, request):
        form = self.form_class(request.POST)
        # A malformed account or address names no lockout: the same 404 as an unknown one.
        account_id = form.cleaned_data["account"] if form.is_valid() else None
        address = form.cleaned_data["address"] if form.is_valid() else ""
        api_key = form.cleaned_data["api_key"] if form.is_valid() else ""
        attempts = attempts_visible_to(request.user)
        if account_id and attempts.filter(account_id=account_id).exists():
            lifted = services.lockout_lift(user=request.user, account_id=account_id)
        elif address and attempts.filter(client_network=address).exists():
            lifted = services.lockout_lift(user=request.user, address=address)
        elif api_key and attempts.filter(api_key=api_key).exists():
            lifted = services.lockout_lift(user=request.user, api_key=api_key)
        else:
            raise Http404("No such lockout in your part of the tree.")
        messages.success(
            request,
            ngettext(
                "Lockout lifted: %(n)s failed attempt forgiven.",
                "Lockout lifted: %(n)s failed attempts forgiven.",
                lifted,
            )
            % {"n": lifted},
        )
        return redirect("topup:attempt-list")


def account_attempts_section(request, account) -> str:
    """The account page's redemption attempts (billing shows them without knowing topup)."""
    attempts = attempts_visible_to(request.user).filter(account=account)[:50]
    return render_to_string(
        "topup/includes/account_attempts.html",
        {"attempts": attempts, "visible": request.user.has_perm("topup.view_redemptionattempt")},
        request=request,
    )


class LiabilityReportView(RightRequiredMixin, StaffRequiredMixin, FormView):
    """How much is owed: issued, redeemed, expired, blocked/void, outstanding, by month."""

    permission_required = "topup.view_card"
    template_name = "topup/liability_report.html"
    form_class = LiabilityReportForm
    http_method_names = READ_ONLY_METHODS

    def get_form_kwargs(self):
        return {"user": self.request.user, "data": self.request.GET or None}

    def get(self, request, *args, **kwargs):
        form = self.get_form()
        if form.is_bound and not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form, report=None))
        data = form.cleaned_data if form.is_bound else {}
        report = reports.liability_report(
            request.user, months=data.get("months") or 12, reseller=data.get("reseller")
        )
        if kwargs.get("csv"):
            return _liability_csv(report)
        daily = reports.redemptions_per_day(request.user)
        return self.render_to_response(
            self.get_context_data(
                form=form,
                report=report,
                daily=daily,
                daily_chart=charts.bar_chart(
                    "Redemptions per day, last 30 days",
                    "Face value of the cards redeemed each day, per currency.",
                    {c: [(day, value) for day, _, value in rows] for c, rows in daily.items()},
                ),
                outstanding_chart=charts.line_chart(
                    "Outstanding value at each month end",
                    "Face value of sold cards neither redeemed, expired, blocked nor void.",
                    report.outstanding_series(),
                ),
                csv_query=request.GET.urlencode(),
            )
        )


def _liability_csv(report) -> StreamingHttpResponse:
    rows = (
        [
            row.month.strftime("%Y-%m"),
            row.reseller.name if row.reseller else "",
            row.currency,
            *(row.figures[name] for name in reports.FIGURES),
        ]
        for row in report.by_reseller
    )
    response = StreamingHttpResponse(
        services.csv_lines(rows, ["month", "reseller", "currency", *reports.CSV_COLUMNS]),
        content_type="text/csv",
    )
    response["Content-Disposition"] = f'attachment; filename="liability-{report.now:%Y%m%d}.csv"'
    return response


class DashboardView(RightRequiredMixin, StaffRequiredMixin, TemplateView):
    """The staff home page: today's redemptions, what is owed, lockouts, series near expiry."""

    permission_required = "topup.view_card"
    template_name = "topup/dashboard.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        can_see_attempts = user.has_perm("topup.view_redemptionattempt")
        return super().get_context_data(
            figures=reports.home_figures(user),
            can_see_attempts=can_see_attempts,
            lockouts=services.active_lockouts(attempts_visible_to(user))
            if can_see_attempts
            else [],
            **kwargs,
        )
