from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("balance/", views.BalanceView.as_view(), name="balance"),
    path("transactions/", views.TransactionListView.as_view(), name="transaction-list"),
    path("customers/", views.AccountListView.as_view(), name="account-list"),
    path("customers/new/", views.AccountOpenView.as_view(), name="account-open"),
    path("customers/<int:pk>/", views.AccountDetailView.as_view(), name="account-detail"),
    path(
        "customers/<int:pk>/redeem-right/",
        views.AccountRedeemRightView.as_view(),
        name="account-redeem-right",
    ),
    path("customers/<int:pk>/adjust/", views.AccountAdjustView.as_view(), name="account-adjust"),
]
