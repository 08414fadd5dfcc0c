from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self):
        from resellers.figures import Figure, register

        from .selectors import customers_per_reseller, customers_total

        register(Figure(_("Customers"), customers_per_reseller, customers_total))
