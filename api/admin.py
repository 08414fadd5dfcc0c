from django.contrib import admin

from billing.admin import ReadOnlyAdmin

from .models import ApiKey, IdempotencyRecord


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Read-only: keys are created and revoked through their services (the API keys page or
    `manage.py api_keys`), which show the token once and write the audit rows."""

    list_display = ["name", "public_id", "reseller", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["=public_id", "name"]
    exclude = ["secret_digest"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "api_key", "key", "status_code"]
    search_fields = ["=key"]
