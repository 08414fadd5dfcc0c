from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResellersConfig(AppConfig):
    name = "resellers"
    verbose_name = _("Resellers")

    def ready(self):
        from . import middleware  # noqa: F401 -- connects the sign-in receiver of two-factor
