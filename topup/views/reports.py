"""The staff home page and the liability report."""

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.utils.translation import gettext
from django.views.generic import FormView, TemplateView

from resellers.mixins import RightRequiredMixin, StaffRequiredMixin

from .. import charts, reports, services
from ..forms import LiabilityReportForm
from ..models import RedemptionAttempt
from .search import READ_ONLY_METHODS


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
            messages.success(request, gettext("Liability CSV downloaded."))
            return _liability_csv(report)
        daily = reports.redemptions_per_day(request.user)
        return self.render_to_response(
            self.get_context_data(
                form=form,
                report=report,
                daily=daily,
                daily_chart=charts.bar_chart(
                    gettext("Redemptions per day, last 30 days"),
                    gettext("Face value of the cards redeemed each day, per currency."),
                    {c: [(day, value) for day, _, value in rows] for c, rows in daily.items()},
                ),
                outstanding_chart=charts.line_chart(
                    gettext("Outstanding value at each month end"),
                    gettext(
                        "Face value of sold cards neither redeemed, expired, blocked nor void."
                    ),
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
        services.csv_lines(rows, reports.liability_csv_header()),
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
            lockouts=services.active_lockouts(RedemptionAttempt.objects.visible_to(user))
            if can_see_attempts
            else [],
            **kwargs,
        )
