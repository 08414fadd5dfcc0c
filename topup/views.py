import csv
import math
from dataclasses import fields
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import DetailView, FormView, ListView, TemplateView

from billing.views import CustomerAccountMixin
from config.client_address import client_address
from resellers.mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin
from resellers.scoping import is_staff_member

from . import services
from .filters import CardFilter
from .forms import (
    CardSelectionForm,
    LockoutLiftForm,
    MassEditForm,
    RedeemForm,
    SeriesGenerateForm,
)
from .models import Series
from .paging import card_page
from .selectors import (
    attempts_visible_to,
    bulk_jobs_visible_to,
    card_totals,
    cards_for_selection,
    cards_visible_to,
    series_visible_to,
    series_with_counts,
    summary_totals,
    summary_visible_to,
)

SEARCH_PARAMS = ("page", "after", "before", "card", "apply_to")


class CardSearchMixin(StaffRequiredMixin):
    """The card search from the query string, shared by the list, export, mass edit, delete."""

    @cached_property
    def filterset(self) -> CardFilter:
        data = self.request.GET.copy()
        for param in SEARCH_PARAMS:
            data.pop(param, None)
        return CardFilter(
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
    def selection(self):
        """(cards, description) chosen by the query string: ticked ids or the whole search.

        Raises ValidationError with a message for the user when the selection is unusable.
        """
        form = CardSelectionForm(self.request.GET, cards=cards_visible_to(self.request.user))
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
        # A unique last key keeps pages stable when the sort key has ties.
        cards = cards.order_by(*(cards.query.order_by or ["-created_at"]), "-pk")
        rows = filterset.summary_rows(summary_visible_to(user)) if valid else None
        # The summary answers most searches at once; the others count the matching cards.
        totals = summary_totals(rows) if rows is not None else card_totals(cards)
        paged = card_page(
            cards,
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
            totals_scanned=valid and rows is None,
            search_query=self.search_query,
            search_pairs=self.search_pairs,
            sort_query=urlencode([(k, v) for k, v in self.search_pairs if k != "sort"]),
            current_sort=self.request.GET.get("sort", ""),
            can_mass_edit=user.has_perm("topup.mass_edit_cards"),
            can_delete=user.has_perm("topup.delete_card"),
            can_reveal=user.has_perm("topup.reveal_pin"),
            can_generate=user.has_perm("topup.generate_series"),
            **kwargs,
        )


class CardRevealView(RightRequiredMixin, StaffRequiredMixin, View):
    permission_required = ("topup.view_card", "topup.reveal_pin")

    def post(self, request, pk):
        card = get_object_or_404(cards_visible_to(request.user), pk=pk)
        pin = services.card_reveal_pin(user=request.user, card=card)
        response = render(request, "topup/card_reveal.html", {"card": card, "pin": pin})
        response["Cache-Control"] = "no-store"
        return response


class _Echo:
    def write(self, value):
        return value


def _csv_lines(rows):
    writer = csv.writer(_Echo())
    yield writer.writerow(["serial", "amount", "currency", "expiry", "pin"])
    for row in rows:
        yield writer.writerow(row)


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

    def get_context_data(self, **kwargs):
        counts = self.cards.aggregate(
            total=Count("pk"), activated=Count("pk", filter=Q(status="activated"))
        )
        return super().get_context_data(
            count=counts["total"],
            activated=counts["activated"],
            changeable=counts["total"] - counts["activated"],
            selection=self.selection_details,
            list_url=self.list_url,
            **kwargs,
        )

    def report(self, result, verb: str):
        """The outcome for the user: the counts, or the background job's page."""
        if result.job is not None:
            messages.info(
                self.request,
                "This selection is large: it is being processed in the background. "
                "This page shows its progress and result.",
            )
            return redirect("topup:bulk-job-detail", pk=result.job.pk)
        text = f"{result.changed:,} card(s) {verb}."
        if result.skipped:
            text += f" {result.skipped:,} card(s) skipped: activated cards are never {verb}."
        messages.success(self.request, text)
        return redirect(self.list_url)


class CardMassEditView(ServiceFormMixin, CardSelectionView):
    permission_required = ("topup.view_card", "topup.mass_edit_cards")
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
        return self.report(result, services.MassEdit.verb)


class CardDeleteView(CardSelectionView):
    permission_required = ("topup.view_card", "topup.delete_card")
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
        return self.report(result, services.Delete.verb)


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
        search = job.selection.get("search")
        total = job.total or 0
        return super().get_context_data(
            summary=summary,
            verb=verb,
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

    def form_valid(self, form):
        rows = services.cards_export_rows(
            user=self.request.user, cards=self.cards, selection=self.selection_details
        )
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="cards-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response


class SeriesListView(RightRequiredMixin, StaffRequiredMixin, ListView):
    permission_required = "topup.view_series"
    template_name = "topup/series_list.html"
    paginate_by = 50

    def get_queryset(self):
        return series_visible_to(self.request.user).select_related("reseller")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(
            can_generate=self.request.user.has_perm("topup.generate_series"), **kwargs
        )
        context["object_list"] = series_with_counts(self.request.user, list(context["object_list"]))
        return context


class SeriesDetailView(RightRequiredMixin, StaffRequiredMixin, DetailView):
    permission_required = "topup.view_series"
    template_name = "topup/series_detail.html"
    context_object_name = "series"

    def get_queryset(self):
        return series_visible_to(self.request.user).select_related("reseller", "created_by")

    def get_context_data(self, **kwargs):
        series = self.object
        percent = math.floor(100 * series.progress / series.quantity) if series.quantity else 0
        return super().get_context_data(
            percent=percent,
            working=series.state in (Series.State.PENDING, Series.State.RUNNING),
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
                self.request, f"Series {series.code}: {series.quantity:,} cards generated."
            )
        else:
            messages.info(
                self.request,
                f"Series {series.code}: {series.quantity:,} cards are being generated.",
            )
        return redirect("topup:series-detail", pk=series.pk)


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
            minutes = math.ceil(result.retry_after / 60)
            form.add_error(
                None, f"Too many failed attempts. Try again in about {minutes} minute(s)."
            )
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(result.retry_after)
            return response
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

    def post(self, request):
        form = LockoutLiftForm(request.POST)
        # A malformed account or address names no lockout: the same 404 as an unknown one.
        account_id = form.cleaned_data["account"] if form.is_valid() else None
        address = form.cleaned_data["address"] if form.is_valid() else ""
        attempts = attempts_visible_to(request.user)
        if account_id and attempts.filter(account_id=account_id).exists():
            lifted = services.lockout_lift(user=request.user, account_id=account_id)
        elif address and attempts.filter(client_network=address).exists():
            lifted = services.lockout_lift(user=request.user, address=address)
        else:
            raise Http404("No such lockout in your part of the tree.")
        messages.success(request, f"Lockout lifted: {lifted} failed attempt(s) forgiven.")
        return redirect("topup:attempt-list")


def account_attempts_section(request, account) -> str:
    """The account page's redemption attempts (billing shows them without knowing topup)."""
    attempts = attempts_visible_to(request.user).filter(account=account)[:50]
    return render_to_string(
        "topup/includes/account_attempts.html",
        {"attempts": attempts, "visible": request.user.has_perm("topup.view_redemptionattempt")},
        request=request,
    )
