from django.contrib import admin

from billing.admin import ReadOnlyAdmin

from .models import Delivery, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["url", "reseller", "active", "created_at"]
    exclude = ["secret_encrypted"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "subscription", "state", "attempts", "created_at"]
    list_filter = ["state"]
