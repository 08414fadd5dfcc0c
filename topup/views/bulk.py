"""Bulk actions on a selection (mass edit, release, void, delete) and their background jobs."""

import math
from dataclasses import fields

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.views import View
from django.views.generic import DetailView, ListView

from locales.formats import money
from resellers.mixins import ServiceFormMixin, StaffRequiredMixin

from .. import services
from ..forms import MassEditForm, ReleaseForm
from ..models import BulkJob
from ..selectors import selection_value
from .search import CardSelectionView


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
            action_kind=self.action.kind,
            # The values as money, side by side ("$5,000.00 + €20.00"), for the sentence.
            worth=format_html_join(
                " + ",
                '<strong class="num" data-testid="will-change-value">{}</strong>',
                ((money(value, currency),) for currency, value in will_change["values"]),
            ),
            skip_note=self.action.skipped_because(),
        )
        return context


class CardReleaseView(ServiceFormMixin, CardLifecycleView):
    permission_required = ("topup.view_card", "topup.release_cards")
    template_name = "topup/card_release.html"
    form_class = ReleaseForm
    action = services.Release

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            refusal=self.four_eyes_refusal(services.FourEyes.RELEASE), **kwargs
        )

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
        return BulkJob.objects.visible_to(self.request.user).select_related("created_by")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for job in context["object_list"]:
            action = services.BULK_ACTIONS.get(job.kind)
            job.title = str(action.title) if action else job.kind
        return context


class BulkJobDetailView(StaffRequiredMixin, DetailView):
    """A background bulk action: its progress, then its result (changed / skipped)."""

    template_name = "topup/bulk_job_detail.html"
    context_object_name = "job"

    def get_queryset(self):
        return BulkJob.objects.visible_to(self.request.user).select_related("created_by")

    def get_context_data(self, **kwargs):
        job = self.object
        action = services.BULK_ACTIONS.get(job.kind)
        try:
            summary = action.from_description(job.params).summary() if action else job.kind
        except ValidationError:
            summary = str(action.title)
        search = job.selection.get("search")
        total = job.total or 0
        return super().get_context_data(
            summary=summary,
            result=action.result_text(job.changed, job.skipped) if action else "",
            percent=math.floor(100 * job.progress / total) if total else 0,
            list_url=f"{reverse('topup:card-list')}?{search}" if search is not None else "",
            **kwargs,
        )


class BulkJobResumeView(StaffRequiredMixin, View):
    """Queue a job a database outage stopped again, from its cursor; only within the user's
    scope and with the right of the job's action (checked by `bulk_job_resume`)."""

    http_method_names = ["post"]

    def post(self, request, pk: int):
        job = get_object_or_404(BulkJob.objects.visible_to(request.user), pk=pk)
        if services.bulk_job_resume(user=request.user, job=job):
            messages.success(request, gettext("The action carries on where it stopped."))
        else:
            messages.info(request, gettext("This action is not waiting to be resumed."))
        return redirect("topup:bulk-job-detail", pk=job.pk)
