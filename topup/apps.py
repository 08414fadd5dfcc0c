from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TopupConfig(AppConfig):
    name = "topup"
    verbose_name = _("Top-up cards")

    def ready(self):
        from billing.views import account_page_sections
        from resellers.figures import Figure, register

        from . import checks, selectors  # noqa: F401 - checks register themselves
        from .views.redemption import account_attempts_section

        register(Figure(_("Cards"), selectors.cards_per_reseller, selectors.cards_total))
        register(
            Figure(
                _("Outstanding"), selectors.outstanding_per_reseller, selectors.outstanding_total
            )
        )
        if account_attempts_section not in account_page_sections:
            account_page_sections.append(account_attempts_section)
