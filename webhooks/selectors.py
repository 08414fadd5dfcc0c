"""Reads that depend on who asks."""

from django.db.models import QuerySet

from resellers.scoping import reseller_ids_visible_to

from .models import Delivery, Subscription


def subscriptions_visible_to(user) -> QuerySet[Subscription]:
    """The subscriptions of the user's reseller subtree, for users who may see them."""
    if not user.is_authenticated or not user.has_perm("webhooks.view_subscription"):
        return Subscription.objects.none()
    return Subscription.objects.filter(reseller_id__in=reseller_ids_visible_to(user))


def deliveries_of(subscription: Subscription) -> QuerySet[Delivery]:
    """A subscription's delivery log, newest first."""
    return subscription.deliveries.select_related("event").prefetch_related("tries")
