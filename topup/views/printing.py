"""Cards leaving the system with their PINs: CSV export, PDF sheets, the print shops' file."""

import math

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views import View
from django.views.generic import DetailView, FormView

from locales.formats import number
from resellers.mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin

from .. import services
from ..models import PrintShop, SheetJob
from ..print_forms import EncryptedExportForm, PrintSheetForm, PrintShopForm, language_name
from .search import CardSelectionView, download


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
            refusal=self.four_eyes_refusal(services.FourEyes.EXPORT),
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
        # Set on the download's response, shown by the next page the user opens.
        messages.success(
            self.request,
            gettext("CSV with PINs downloaded; the export is recorded in the audit log."),
        )
        return download(StreamingHttpResponse(lines, content_type="text/csv"), "csv")


class CardPrintView(ServiceFormMixin, CardSelectionView):
    """Card sheets as PDF: small ones at once, large ones through the task worker."""

    permission_required = ("topup.view_card", "topup.reveal_pin")
    template_name = "topup/card_print.html"
    form_class = PrintSheetForm

    def get_initial(self):
        """The cards' own language when their series agree on one (a series chooses it)."""
        languages = list(
            self.cards.order_by().values_list("series__language", flat=True).distinct()[:2]
        )
        initial = super().get_initial()
        if len(languages) == 1:
            initial["language"] = languages[0]
        return initial

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            refusal=self.four_eyes_refusal(services.FourEyes.PRINT), **kwargs
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
                ngettext(
                    "%(n)s cards (%(pages)s page) are being rendered; download the sheet here "
                    "when it is ready.",
                    "%(n)s cards (%(pages)s pages) are being rendered; download the sheet here "
                    "when it is ready.",
                    result.pages,
                )
                % {"n": number(result.count), "pages": number(result.pages)},
            )
            return redirect("topup:sheet-detail", pk=result.job.pk)
        messages.success(
            self.request,
            ngettext(
                "PDF sheet of %(n)s card downloaded.", "PDF sheet of %(n)s cards downloaded.",
                result.count,
            ) % {"n": number(result.count)},
        )  # fmt: skip
        return download(HttpResponse(result.pdf, content_type="application/pdf"), "pdf")


class SheetJobDetailView(RightRequiredMixin, StaffRequiredMixin, DetailView):
    """A large sheet's progress, then its download button; only for the user who asked."""

    permission_required = "topup.reveal_pin"
    template_name = "topup/sheet_detail.html"
    context_object_name = "job"

    def get_queryset(self):
        return SheetJob.objects.visible_to(self.request.user)

    def get_context_data(self, **kwargs):
        job = self.object
        return super().get_context_data(
            percent=math.floor(100 * job.progress / job.total) if job.total else 0,
            working=job.working,
            language_name=language_name(job.language),
            **kwargs,
        )


class SheetJobDownloadView(RightRequiredMixin, StaffRequiredMixin, View):
    permission_required = "topup.reveal_pin"

    def post(self, request, pk):
        job = get_object_or_404(SheetJob.objects.visible_to(request.user), pk=pk)
        try:
            chunks = services.sheet_job_download(user=request.user, job=job)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return redirect("topup:sheet-detail", pk=job.pk)
        messages.success(request, gettext("PDF card sheet downloaded."))
        return download(StreamingHttpResponse(chunks, content_type="application/pdf"), "pdf")


class CardExportEncryptedView(ServiceFormMixin, CardSelectionView):
    """The export CSV encrypted to a registered print shop's OpenPGP key (.csv.gpg)."""

    permission_required = ("topup.view_card", "topup.reveal_pin")
    template_name = "topup/card_export_encrypted.html"
    form_class = EncryptedExportForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_manage_shops=self.request.user.has_perm("topup.add_printshop"),
            refusal=self.four_eyes_refusal(services.FourEyes.EXPORT),
            **kwargs,
        )

    def perform(self, data):
        chunks = services.cards_export_encrypted(
            user=self.request.user,
            cards=self.cards,
            selection=self.selection_details,
            shop=data["shop"],
        )
        messages.success(
            self.request,
            gettext("Encrypted export for %(shop)s downloaded (.csv.gpg).")
            % {"shop": data["shop"]},
        )
        response = StreamingHttpResponse(chunks, content_type="application/pgp-encrypted")
        return download(response, "csv.gpg")


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
            self.request,
            gettext("%(shop)s registered; key fingerprint %(fingerprint)s.")
            % {"shop": shop.name, "fingerprint": shop.fingerprint_display},
        )
        return redirect("topup:printshop-list")


class PrintShopDeleteView(RightRequiredMixin, StaffRequiredMixin, View):
    permission_required = "topup.delete_printshop"

    def post(self, request, pk):
        shop = get_object_or_404(PrintShop, pk=pk)
        services.print_shop_delete(user=request.user, shop=shop)
        messages.success(request, gettext("%(shop)s removed.") % {"shop": shop.name})
        return redirect("topup:printshop-list")
