from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks/", views.SubscriptionListView.as_view(), name="subscription-list"),
    path("webhooks/new/", views.SubscriptionCreateView.as_view(), name="subscription-create"),
    path("webhooks/<int:pk>/", views.DeliveryListView.as_view(), name="delivery-list"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery>/replay/",
        views.DeliveryReplayView.as_view(),
        name="delivery-replay",
    ),
]
