from django.contrib import admin

from .models import Account, Transaction


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "reseller", "currency", "balance", "user"]
    list_filter = ["currency"]
    search_fields = ["name"]
    readonly_fields = ["balance"]


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    """The ledger is append-only: the admin can read it and nothing else."""

    list_display = ["created_at", "account", "amount", "balance_after", "kind", "description"]
    list_filter = ["kind"]
    search_fields = ["description", "reference"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
