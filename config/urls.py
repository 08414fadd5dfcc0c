from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.urls import api_urls
from resellers.two_factor_views import TwoFactorSetupView, TwoFactorVerifyView, two_factor_qr
from resellers.views import PasswordChangeView, ThemeSetView, home

urlpatterns = [
    # First: gateways call the API far more often than people open pages, and a request is
    # matched against the patterns in order.
    *api_urls,
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("theme/", ThemeSetView.as_view(), name="theme"),
    path("password/", PasswordChangeView.as_view(), name="password_change"),
    path("two-factor/", TwoFactorSetupView.as_view(), name="two_factor_setup"),
    path("two-factor/verify/", TwoFactorVerifyView.as_view(), name="two_factor_verify"),
    path("two-factor/qr.svg", two_factor_qr, name="two_factor_qr"),
    # The language switcher (Django's set_language, storing a signed-in user's choice) and
    # the Preferences page (language and time zone).
    path("i18n/", include("locales.urls")),
    path("", include("resellers.urls")),
    path("", include("billing.urls")),
    path("", include("wallets.urls")),
    path("", include("topup.urls")),
    path("", include("api.urls")),
    path("", include("webhooks.urls")),
    path("admin/", admin.site.urls),
]

# A database outage answers 503 with Retry-After (config/outage_views.py), never 500.
handler500 = "config.outage_views.server_error"
