from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("balance/", views.BalanceView.as_view(), name="balance"),
    path("transactions/", views.TransactionListView.as_view(), name="transaction-list"),
    path("customers/", views.AccountListView.as_view(), name="account-list"),
]
