from django.urls import path

from . import views

app_name = "wallets"

urlpatterns = [
    path("resellers/<int:pk>/wallet/", views.WalletDetailView.as_view(), name="wallet-detail"),
    path(
        "resellers/<int:pk>/wallet/settings/",
        views.WalletSettingsView.as_view(),
        name="wallet-settings",
    ),
    path(
        "resellers/<int:pk>/wallet/series-discount/",
        views.SeriesDiscountView.as_view(),
        name="wallet-series-discount",
    ),
    path("resellers/<int:pk>/wallet/money/", views.WalletMoneyView.as_view(), name="wallet-money"),
    path(
        "resellers/<int:pk>/wallet/statement/",
        views.StatementView.as_view(),
        name="wallet-statement",
    ),
    path(
        "resellers/<int:pk>/wallet/statement.csv",
        views.StatementView.as_view(output="csv"),
        name="wallet-statement-csv",
    ),
    path(
        "resellers/<int:pk>/wallet/statement.pdf",
        views.StatementView.as_view(output="pdf"),
        name="wallet-statement-pdf",
    ),
    path("wallets/approvals/", views.ApprovalListView.as_view(), name="approval-list"),
    path(
        "wallets/approvals/<int:pk>/approve/",
        views.ApprovalDecideView.as_view(approve=True),
        name="approval-approve",
    ),
    path(
        "wallets/approvals/<int:pk>/reject/",
        views.ApprovalDecideView.as_view(approve=False),
        name="approval-reject",
    ),
]
