from django.apps import AppConfig


class ResellersConfig(AppConfig):
    name = "resellers"
    verbose_name = "Resellers"

    def ready(self):
        from . import middleware  # noqa: F401 -- connects the sign-in receiver of two-factor
