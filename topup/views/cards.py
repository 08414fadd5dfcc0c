"""The card list, one card's history, finding a card by serial number, revealing a PIN."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views import View
from django.views.decorators.debug import sensitive_variables
from django.views.generic import DetailView, FormView, TemplateView

from resellers.mixins import RightRequiredMixin, StaffRequiredMixin

from .. import card_list_plan, services
from ..forms import CardFindForm
from ..history import card_history
from ..models import Card, CardSummary
from ..paging import card_page
from ..selectors import summary_totals
from ..services.summary import compact_summary
from .search import READ_ONLY_METHODS, CardSearchMixin


class CardListView(RightRequiredMixin, CardSearchMixin, TemplateView):
    permission_required = "topup.view_card"
    template_name = "topup/card_list.html"
    paginate_by = 50

    def get_context_data(self, **kwargs):
        filterset = self.filterset
        user = self.request.user
        valid = not filterset.is_bound or filterset.is_valid()
        cards = filterset.qs if valid else Card.objects.visible_to(user).none()
        rows = filterset.summary_rows(CardSummary.objects.visible_to(user)) if valid else None
        # The summary answers most searches at once; the others count at most 10,000 cards.
        totals, scanned = None, False
        if rows is not None:
            totals = summary_totals(rows)
            if totals["rows"] > settings.TOPUP_SUMMARY_COMPACT_ROWS:
                compact_summary.enqueue()  # the read summed many delta rows: fold them
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
            Card.objects.visible_to(self.request.user)
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
            card = Card.objects.visible_to(request.user).filter(number=number).first()
            if card is not None:
                return redirect("topup:card-detail", pk=card.pk)
            form.add_error(
                "number", gettext("No card with this serial number in your part of the tree.")
            )
        return self.render_to_response(self.get_context_data(form=form))


class CardRevealView(RightRequiredMixin, StaffRequiredMixin, View):
    permission_required = ("topup.view_card", "topup.reveal_pin")

    @method_decorator(sensitive_variables("pin"))
    def post(self, request, pk):
        card = get_object_or_404(Card.objects.visible_to(request.user), pk=pk)
        try:
            pin = services.card_reveal_pin(user=request.user, card=card)
        except ValidationError as exc:  # four eyes: the refusal says why
            messages.error(request, exc.messages[0])
            return redirect("topup:card-detail", pk=card.pk)
        response = render(request, "topup/card_reveal.html", {"card": card, "pin": pin})
        response["Cache-Control"] = "no-store"
        return response
