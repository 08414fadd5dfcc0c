"""Wallets and their ledger, readable in the admin: every change goes through the services
(a billing change reprices the stock; an entry is never edited), so nothing is edited here."""

from django.contrib import admin

from billing.admin import ReadOnlyAdmin

from .models import SeriesDiscount, Wallet, WalletEntry


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ["reseller", "currency", "balance", "credit_limit", "billing_mode", "discount"]
    list_filter = ["billing_mode", "currency"]
    reseller_lookups = ("reseller",)


@admin.register(WalletEntry)
class WalletEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "wallet", "amount", "balance_after", "kind", "cards", "note"]
    list_filter = ["kind"]
    search_fields = ["note", "reference"]
    reseller_lookups = ("wallet__reseller",)


@admin.register(SeriesDiscount)
class SeriesDiscountAdmin(ReadOnlyAdmin):
    list_display = ["reseller", "series", "discount"]
    reseller_lookups = ("reseller",)
