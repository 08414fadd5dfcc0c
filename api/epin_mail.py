"""Sending a sold e-PIN to the customer's e-mail address: the one place its PIN leaves in
clear when the sale names an address (the API answer then holds no PIN, and nothing stores
it)."""

import logging

from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_variables

from topup.models import Card

logger = logging.getLogger(__name__)


@sensitive_variables("pin", "body")
def epin_email_send(*, to: str, card: Card, pin: str) -> bool:
    """Send the PIN of a sold card to `to`; False (logged, without the PIN) if it failed."""
    subject = gettext("Your top-up PIN")
    body = render_to_string("api/epin_email.txt", {"card": card, "pin": pin})
    try:
        EmailMessage(subject=subject, body=body, to=[to]).send()
    except Exception:
        logger.exception("E-PIN e-mail for card %s could not be sent", card.number)
        return False
    return True
