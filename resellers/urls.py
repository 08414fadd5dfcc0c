from django.urls import path

from . import views

app_name = "resellers"

urlpatterns = [
    path("resellers/", views.ResellerListView.as_view(), name="reseller-list"),
    path("resellers/new/", views.ResellerCreateView.as_view(), name="reseller-create"),
    path("resellers/<int:pk>/", views.ResellerDetailView.as_view(), name="reseller-detail"),
    path("resellers/<int:pk>/rename/", views.ResellerRenameView.as_view(), name="reseller-rename"),
    path("resellers/<int:pk>/active/", views.ResellerActiveView.as_view(), name="reseller-active"),
    path("resellers/<int:pk>/move/", views.ResellerMoveView.as_view(), name="reseller-move"),
    path("staff/", views.StaffUserListView.as_view(), name="user-list"),
    path("staff/new/", views.StaffUserCreateView.as_view(), name="user-create"),
    path("staff/<int:pk>/active/", views.StaffUserActiveView.as_view(), name="user-active"),
    path(
        "staff/<int:pk>/password/",
        views.StaffUserPasswordResetView.as_view(),
        name="user-password-reset",
    ),
]
