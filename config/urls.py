from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from resellers.views import PasswordChangeView, home

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", PasswordChangeView.as_view(), name="password_change"),
    path("", include("resellers.urls")),
    path("", include("billing.urls")),
    path("", include("topup.urls")),
    path("admin/", admin.site.urls),
]
