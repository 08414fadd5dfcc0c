from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from config.admin_site import OperatorModelAdmin

from .models import Reseller, User


@admin.register(Reseller)
class ResellerAdmin(OperatorModelAdmin):
    list_display = ["name", "currency", "parent", "path"]
    search_fields = ["name"]
    readonly_fields = ["path"]
    reseller_lookups = ("pk",)


@admin.register(User)
class UserAdmin(OperatorModelAdmin, BaseUserAdmin):
    list_display = ["username", "email", "reseller", "is_staff", "is_active"]
    list_filter = ["groups", "is_staff", "is_active"]
    fieldsets = [*BaseUserAdmin.fieldsets, ("Company", {"fields": ["reseller"]})]
    reseller_lookups = ("reseller", "account__reseller")

    DEACTIVATE_INSTEAD = (
        "A user named on ledger rows cannot be deleted: the ledger keeps who made each balance "
        "change. Deactivate the user instead (untick “Active” on the user's page): they can no "
        "longer sign in, and the ledger still names them."
    )

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            messages.warning(request, self.DEACTIVATE_INSTEAD)
        return deleted, counts, perms_needed, protected
