from django.apps import AppConfig


class TopupConfig(AppConfig):
    name = "topup"
    verbose_name = "Top-up cards"

    def ready(self):
        from resellers.figures import Figure, register

        from . import selectors

        register(Figure("Cards", selectors.cards_per_reseller, selectors.cards_total))
        register(
            Figure("Outstanding", selectors.outstanding_per_reseller, selectors.outstanding_total)
        )
