"""Sending a sold e-PIN to the customer's e-mail address: the one place its PIN leaves in
clear when the sale names an address (the API answer then holds no PIN, and nothing stores
it). Written in the language the sale asks for (`language`, else the request's
Accept-Language), else the panel's default."""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_variables

from topup.models import Card

logger = logging.getLogger(__name__)


def email_language(*, requested: str | None, accept_language: str = "") -> str:
    """The best supported language for the e-mail: the one asked for, else the first
    supported one of an Accept-Language header, else LANGUAGE_CODE."""
    wanted = [requested] if requested else []
    wanted += [
        code for code, _q in translation.trans_real.parse_accept_lang_header(accept_language)
    ]
    for code in wanted:
        if code == "*":
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


@sensitive_variables("pin", "body")
def epin_email_send(*, to: str, card: Card, pin: str, language: str | None = None) -> bool:
    """Send the PIN of a sold card to `to`, in `language`; False (logged, without the PIN) if
    it failed."""
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = gettext("Your top-up PIN")
        body = render_to_string("api/epin_email.txt", {"card": card, "pin": pin})
    try:
        EmailMessage(subject=subject, body=body, to=[to]).send()
    except Exception:
        logger.exception("E-PIN e-mail for card %s could not be sent", card.number)
        return False
    return True
