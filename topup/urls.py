from django.urls import path

from . import views
from .job_views import BulkJobResumeView

app_name = "topup"

urlpatterns = [
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("reports/liability/", views.LiabilityReportView.as_view(), name="liability-report"),
    path(
        "reports/liability.csv",
        views.LiabilityReportView.as_view(),
        {"csv": True},
        name="liability-report-csv",
    ),
    path("cards/", views.CardListView.as_view(), name="card-list"),
    path("cards/export/", views.CardExportView.as_view(), name="card-export"),
    path("cards/mass-edit/", views.CardMassEditView.as_view(), name="card-mass-edit"),
    path("cards/delete/", views.CardDeleteView.as_view(), name="card-delete"),
    path("cards/release/", views.CardReleaseView.as_view(), name="card-release"),
    path("cards/void/", views.CardVoidView.as_view(), name="card-void"),
    path("cards/print/", views.CardPrintView.as_view(), name="card-print"),
    path(
        "cards/export/encrypted/",
        views.CardExportEncryptedView.as_view(),
        name="card-export-encrypted",
    ),
    path("sheets/<int:pk>/", views.SheetJobDetailView.as_view(), name="sheet-detail"),
    path("sheets/<int:pk>/download/", views.SheetJobDownloadView.as_view(), name="sheet-download"),
    path("print-shops/", views.PrintShopListView.as_view(), name="printshop-list"),
    path(
        "print-shops/<int:pk>/delete/",
        views.PrintShopDeleteView.as_view(),
        name="printshop-delete",
    ),
    path("cards/<int:pk>/", views.CardDetailView.as_view(), name="card-detail"),
    path("cards/find/", views.CardFindView.as_view(), name="card-find"),
    path("cards/<int:pk>/reveal/", views.CardRevealView.as_view(), name="card-reveal"),
    path("cards/jobs/", views.BulkJobListView.as_view(), name="bulk-job-list"),
    path("cards/jobs/<int:pk>/", views.BulkJobDetailView.as_view(), name="bulk-job-detail"),
    path("cards/jobs/<int:pk>/resume/", BulkJobResumeView.as_view(), name="bulk-job-resume"),
    path("series/", views.SeriesListView.as_view(), name="series-list"),
    path("series/new/", views.SeriesGenerateView.as_view(), name="series-generate"),
    path("series/<int:pk>/", views.SeriesDetailView.as_view(), name="series-detail"),
    path(
        "series/reconciliation.csv",
        views.SeriesReconciliationView.as_view(),
        name="series-reconciliation",
    ),
    path("payment-gateways/", views.PaymentGatewaysView.as_view(), name="payment-gateways"),
    path(
        "customers/<int:account>/redeem/",
        views.SupportRedeemView.as_view(),
        name="support-redeem",
    ),
    path("attempts/", views.AttemptListView.as_view(), name="attempt-list"),
    path("attempts/lift/", views.LockoutLiftView.as_view(), name="lockout-lift"),
]
