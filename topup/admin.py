from django.contrib import admin

from billing.admin import ReadOnlyAdmin
from resellers.models import AuditEvent

from .models import BulkJob, Card, CardSale, EpinProduct, RedemptionAttempt, Series


@admin.register(Series)
class SeriesAdmin(ReadOnlyAdmin):
    list_display = ["code", "amount", "currency", "quantity", "reseller", "state", "created_at"]
    list_filter = ["state", "currency"]
    search_fields = ["code"]
    reseller_lookups = ("reseller",)


@admin.register(Card)
class CardAdmin(ReadOnlyAdmin):
    """Cards change through the card list's mass edit, which checks scope and audits."""

    list_display = ["number", "amount", "currency", "status", "reseller", "expires_at"]
    list_filter = ["status", "currency"]
    search_fields = ["=number"]
    exclude = ["pin_digest", "pin_encrypted", "pin_key_version"]
    show_full_result_count = False
    reseller_lookups = ("reseller",)


@admin.register(RedemptionAttempt)
class RedemptionAttemptAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "client_address", "outcome", "reason", "card_number"]
    list_filter = ["outcome", "reason"]
    reseller_lookups = ("account__reseller",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor"]
    list_filter = ["action"]


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "state", "progress", "changed", "total", "created_by"]
    list_filter = ["state", "kind"]


@admin.register(EpinProduct)
class EpinProductAdmin(ReadOnlyAdmin):
    """Read only: operators define products on the E-PIN products page, whose service checks
    scope and series (docs/api.md)."""

    list_display = ["code", "name", "reseller", "amount", "currency", "make_on_demand", "active"]


@admin.register(CardSale)
class CardSaleAdmin(ReadOnlyAdmin):
    list_display = ["card", "seller", "channel", "created_at", "voided_at"]
    search_fields = ["=card__number", "=channel"]
