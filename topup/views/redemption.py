"""Redeeming a PIN (the customer's Payment Gateways page, support staff) and the lockouts."""

import math

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, ListView

from billing.models import Account
from billing.views import CustomerAccountMixin
from config.client_address import client_address
from locales.formats import money, number
from resellers.mixins import RightRequiredMixin, StaffRequiredMixin

from .. import services
from ..forms import LockoutLiftForm, RedeemForm, SupportRedeemForm
from ..models import RedemptionAttempt


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
        % {"n": number(minutes)},
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

    GENERIC_REFUSAL = _(
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
        if result.outcome == services.RedeemOutcome.LOCKED:
            return _locked_out(self, form, result.retry_after)
        if result.outcome == services.RedeemOutcome.SUCCESS:
            messages.success(
                self.request,
                gettext("%(amount)s added to your balance. New balance: %(balance)s.")
                % {
                    "amount": money(result.amount, self.account.currency),
                    "balance": money(result.balance, self.account.currency),
                },
            )
            return redirect("topup:payment-gateways")
        if result.outcome == services.RedeemOutcome.ALREADY:
            messages.info(
                self.request,
                gettext(
                    "This card was already credited to your account (%(amount)s); nothing was "
                    "added again."
                )
                % {"amount": money(result.amount, self.account.currency)},
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
        return get_object_or_404(
            Account.objects.visible_to(self.request.user), pk=self.kwargs["account"]
        )

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
        if result.outcome == services.RedeemOutcome.LOCKED:
            return _locked_out(self, form, result.retry_after)
        if result.outcome == services.RedeemOutcome.SUCCESS:
            messages.success(
                self.request,
                gettext("Card %(card)s: %(amount)s added to %(account)s. New balance: %(balance)s.")
                % {
                    "card": result.card_number,
                    "amount": money(result.amount, currency),
                    "account": self.account.name,
                    "balance": money(result.balance, currency),
                },
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
        return RedemptionAttempt.objects.visible_to(self.request.user)

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
        attempts = RedemptionAttempt.objects.visible_to(request.user)
        if account_id and attempts.filter(account_id=account_id).exists():
            lifted = services.lockout_lift(user=request.user, account_id=account_id)
        elif address and attempts.filter(client_network=address).exists():
            lifted = services.lockout_lift(user=request.user, address=address)
        elif api_key and attempts.filter(api_key=api_key).exists():
            lifted = services.lockout_lift(user=request.user, api_key=api_key)
        else:
            raise Http404(gettext("No such lockout in your part of the tree."))
        messages.success(
            request,
            ngettext(
                "Lockout lifted: %(n)s failed attempt forgiven.",
                "Lockout lifted: %(n)s failed attempts forgiven.",
                lifted,
            )
            % {"n": number(lifted)},
        )
        return redirect("topup:attempt-list")


def account_attempts_section(request, account) -> str:
    """The account page's redemption attempts (billing shows them without knowing topup)."""
    attempts = RedemptionAttempt.objects.visible_to(request.user).filter(account=account)[:50]
    return render_to_string(
        "topup/includes/account_attempts.html",
        {"attempts": attempts, "visible": request.user.has_perm("topup.view_redemptionattempt")},
        request=request,
    )
