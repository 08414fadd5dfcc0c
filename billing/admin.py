from django.contrib import admin

from config.admin_site import OperatorModelAdmin

from .models import Account, Transaction


@admin.register(Account)
class AccountAdmin(OperatorModelAdmin):
    list_display = ["number", "name", "reseller", "currency", "balance", "user"]
    list_filter = ["currency"]
    search_fields = ["=number", "name"]
    readonly_fields = ["number", "balance"]
    reseller_lookups = ("reseller",)


class ReadOnlyAdmin(OperatorModelAdmin):
    """Append-only records (the ledger, logs): readable in the admin, never edited there."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "amount", "balance_after", "kind", "description"]
    list_filter = ["kind"]
    search_fields = ["description", "reference"]
    reseller_lookups = ("account__reseller",)
