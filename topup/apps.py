from django.apps import AppConfig


class TopupConfig(AppConfig):
    name = "topup"
    verbose_name = "Top-up cards"
