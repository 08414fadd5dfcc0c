from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .middleware import confined
from .models import User
from .scoping import is_staff_member


def navigation(request):
    """The navigation items of the signed-in user's role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    if confined(request):  # its pages offer only the setup (or password) and log out
        return {"nav_items": [], "theme_choices": User.Theme.choices, "show_preferences": False}
    if is_staff_member(user):
        pages = [
            (_("Home"), "topup:dashboard", "topup.view_card"),
            (_("Top-up Cards"), "topup:card-list", "topup.view_card"),
            (_("Series"), "topup:series-list", "topup.view_series"),
            (_("Customers"), "billing:account-list", "billing.view_account"),
            (_("Liability"), "topup:liability-report", "topup.view_card"),
            (_("Resellers"), "resellers:reseller-list", "resellers.view_reseller"),
            (_("Redemption attempts"), "topup:attempt-list", "topup.view_redemptionattempt"),
            (_("API keys"), "api:key-list", "api.view_apikey"),
            (_("Webhooks"), "webhooks:subscription-list", "webhooks.view_subscription"),
            (_("Print shops"), "topup:printshop-list", "topup.view_printshop"),
            (_("E-PIN products"), "topup:epinproduct-list", "topup.view_epinproduct"),
            (_("Audit log"), "topup:audit-log", "resellers.view_auditevent"),
        ]
        items = [(label, reverse(name)) for label, name, right in pages if user.has_perm(right)]
    else:
        items = [
            (_("Balance"), reverse("billing:balance")),
            (_("Transactions"), reverse("billing:transaction-list")),
            (_("Payment Gateways"), reverse("topup:payment-gateways")),
        ]
    path = request.path
    return {
        "nav_items": [
            {"label": label, "url": url, "active": path.startswith(url)} for label, url in items
        ],
        "theme_choices": User.Theme.choices,
        "show_preferences": True,
    }
