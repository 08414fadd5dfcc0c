from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WalletsConfig(AppConfig):
    name = "wallets"
    verbose_name = _("Reseller wallets")

    def ready(self):
        from resellers.figures import register

        from .figures import FIGURES

        for figure in FIGURES:
            register(figure)
