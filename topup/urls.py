from django.urls import path

from .views import audit, bulk, cards, epins, printing, redemption, reports, series

app_name = "topup"

urlpatterns = [
    path("dashboard/", reports.DashboardView.as_view(), name="dashboard"),
    path("reports/liability/", reports.LiabilityReportView.as_view(), name="liability-report"),
    path(
        "reports/liability.csv",
        reports.LiabilityReportView.as_view(),
        {"csv": True},
        name="liability-report-csv",
    ),
    path("cards/", cards.CardListView.as_view(), name="card-list"),
    path("cards/export/", printing.CardExportView.as_view(), name="card-export"),
    path("cards/mass-edit/", bulk.CardMassEditView.as_view(), name="card-mass-edit"),
    path("cards/delete/", bulk.CardDeleteView.as_view(), name="card-delete"),
    path("cards/release/", bulk.CardReleaseView.as_view(), name="card-release"),
    path("cards/void/", bulk.CardVoidView.as_view(), name="card-void"),
    path("cards/print/", printing.CardPrintView.as_view(), name="card-print"),
    path(
        "cards/export/encrypted/",
        printing.CardExportEncryptedView.as_view(),
        name="card-export-encrypted",
    ),
    path("sheets/<int:pk>/", printing.SheetJobDetailView.as_view(), name="sheet-detail"),
    path(
        "sheets/<int:pk>/download/", printing.SheetJobDownloadView.as_view(), name="sheet-download"
    ),
    path("print-shops/", printing.PrintShopListView.as_view(), name="printshop-list"),
    path(
        "print-shops/<int:pk>/delete/",
        printing.PrintShopDeleteView.as_view(),
        name="printshop-delete",
    ),
    path("cards/<int:pk>/", cards.CardDetailView.as_view(), name="card-detail"),
    path("cards/find/", cards.CardFindView.as_view(), name="card-find"),
    path("cards/<int:pk>/reveal/", cards.CardRevealView.as_view(), name="card-reveal"),
    path("cards/jobs/", bulk.BulkJobListView.as_view(), name="bulk-job-list"),
    path("cards/jobs/<int:pk>/", bulk.BulkJobDetailView.as_view(), name="bulk-job-detail"),
    path("cards/jobs/<int:pk>/resume/", bulk.BulkJobResumeView.as_view(), name="bulk-job-resume"),
    path("series/", series.SeriesListView.as_view(), name="series-list"),
    path("series/new/", series.SeriesGenerateView.as_view(), name="series-generate"),
    path("series/new/preview/", series.SeriesPreviewView.as_view(), name="series-preview"),
    path("series/<int:pk>/", series.SeriesDetailView.as_view(), name="series-detail"),
    path(
        "series/reconciliation.csv",
        series.SeriesReconciliationView.as_view(),
        name="series-reconciliation",
    ),
    path("payment-gateways/", redemption.PaymentGatewaysView.as_view(), name="payment-gateways"),
    path(
        "customers/<int:account>/redeem/",
        redemption.SupportRedeemView.as_view(),
        name="support-redeem",
    ),
    path("epin-products/", epins.EpinProductListView.as_view(), name="epinproduct-list"),
    path("epin-products/new/", epins.EpinProductCreateView.as_view(), name="epinproduct-create"),
    path("epin-products/<int:pk>/", epins.EpinProductEditView.as_view(), name="epinproduct-edit"),
    path("audit-log/", audit.AuditLogView.as_view(), name="audit-log"),
    path("audit-log.csv", audit.AuditLogView.as_view(), {"csv": True}, name="audit-log-csv"),
    path("attempts/", redemption.AttemptListView.as_view(), name="attempt-list"),
    path("attempts/lift/", redemption.LockoutLiftView.as_view(), name="lockout-lift"),
]
