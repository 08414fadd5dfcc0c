from django.urls import reverse

from .scoping import is_staff_member


def navigation(request):
    """The navigation items of the signed-in user's role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    if is_staff_member(user):
        items = [
            ("Top-up Cards", reverse("topup:card-list")),
            ("Series", reverse("topup:series-list")),
            ("Customers", reverse("billing:account-list")),
        ]
        if user.has_perm("topup.view_redemptionattempt"):
            items.append(("Redemption attempts", reverse("topup:attempt-list")))
        if user.has_perm("api.view_apikey"):
            items.append(("API keys", reverse("api:key-list")))
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
        ]
    }
