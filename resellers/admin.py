from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Reseller, User


@admin.register(Reseller)
class ResellerAdmin(admin.ModelAdmin):
    list_display = ["name", "currency", "parent", "path"]
    search_fields = ["name"]
    readonly_fields = ["path"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "reseller", "is_staff", "is_active"]
    list_filter = ["groups", "is_staff", "is_active"]
    fieldsets = [*BaseUserAdmin.fieldsets, ("Company", {"fields": ["reseller"]})]
