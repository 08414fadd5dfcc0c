"""The card search every card page starts from, and the selection bulk pages act on."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.views.generic import FormView

from resellers.mixins import RightRequiredMixin, StaffRequiredMixin
from resellers.scoping import is_staff_member

from .. import services
from ..filters import CardFilter, search_chips
from ..forms import CardSelectionForm
from ..models import Card
from ..selectors import cards_for_selection

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
            data or None,
            queryset=Card.objects.visible_to(self.request.user),
            user=self.request.user,
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
            self.request.GET, cards=Card.objects.visible_to(self.request.user)
        )
        if not form.is_valid():
            raise ValidationError(next(iter(form.errors.values()))[0])
        if form.cleaned_data["apply_to"] == "selected":
            details = {"cards": form.cleaned_data["card"]}
        else:
            details = {"search": self.search_query}
        return cards_for_selection(self.request.user, details), details


def download(response, extension: str):
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
        kept = ~self.action().may_change() if self.action else Q(status=Card.Status.ACTIVATED)
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

    def four_eyes_refusal(self, action: services.FourEyes) -> str:
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
                gettext(
                    "This selection is large: it is being processed in the background. "
                    "This page shows its progress and result."
                ),
            )
            return redirect("topup:bulk-job-detail", pk=result.job.pk)
        text = action.result_text(result.changed, result.skipped)
        messages.success(self.request, text)
        return redirect(self.list_url)
