from django.urls import path

from . import views

app_name = "topup"

urlpatterns = [
    path("cards/", views.CardListView.as_view(), name="card-list"),
    path("cards/export/", views.CardExportView.as_view(), name="card-export"),
    path("cards/mass-edit/", views.CardMassEditView.as_view(), name="card-mass-edit"),
    path("cards/delete/", views.CardDeleteView.as_view(), name="card-delete"),
    path("cards/<int:pk>/reveal/", views.CardRevealView.as_view(), name="card-reveal"),
    path("cards/jobs/", views.BulkJobListView.as_view(), name="bulk-job-list"),
    path("cards/jobs/<int:pk>/", views.BulkJobDetailView.as_view(), name="bulk-job-detail"),
    path("series/", views.SeriesListView.as_view(), name="series-list"),
    path("series/new/", views.SeriesGenerateView.as_view(), name="series-generate"),
    path("series/<int:pk>/", views.SeriesDetailView.as_view(), name="series-detail"),
    path("payment-gateways/", views.PaymentGatewaysView.as_view(), name="payment-gateways"),
    path("attempts/", views.AttemptListView.as_view(), name="attempt-list"),
    path("attempts/lift/", views.LockoutLiftView.as_view(), name="lockout-lift"),
]
