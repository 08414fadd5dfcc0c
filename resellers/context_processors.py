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
        return {"nav_items": [], "theme_choices": User.Theme.choices}
    if is_staff_member(user):
        pages = [
            ("Home", "topup:dashboard", "topup.view_card"),
            ("Top-up Cards", "topup:card-list", "topup.view_card"),
            ("Series", "topup:series-list", "topup.view_series"),
            ("Customers", "billing:account-list", "billing.view_account"),
            ("Liability", "topup:liability-report", "topup.view_card"),
            ("Resellers", "resellers:reseller-list", "resellers.view_reseller"),
            ("Redemption attempts", "topup:attempt-list", "topup.view_redemptionattempt"),
            ("API keys", "api:key-list", "api.view_apikey"),
            (_("Webhooks"), "webhooks:subscription-list", "webhooks.view_subscription"),
            ("Print shops", "topup:printshop-list", "topup.view_printshop"),
            (_("E-PIN products"), "topup:epinproduct-list", "topup.view_epinproduct"),
            ("Audit log", "topup:audit-log", "resellers.view_auditevent"),
        ]
        items = [(label, reverse(name)) for label, name, right in pages if user.has_perm(right)]
    else:
        items = [
            ("Balance", reverse("billing:balance")),
            ("Transactions", reverse("billing:transaction-list")),
            ("Payment Gateways", reverse("topup:payment-gateways")),
        ]
    path = request.path
    return {
        "nav_items": [
            {"label": label, "url": url, "active": path.startswith(url)} for label, url in items
        ],
        "theme_choices": User.Theme.choices,
    }
