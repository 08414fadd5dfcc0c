from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from resellers.figures import Figure, register

        from .selectors import customers_per_reseller, customers_total

        register(Figure("Customers", customers_per_reseller, customers_total))
