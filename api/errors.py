"""The API's errors: a stable English code, and a detail for people in the caller's language.

Every error body carries `{"code": ..., "detail": ...}` (the redemption's and the balance's
keep their `status` beside them). Codes never change once published; details are gettext
messages, translated under the request's Accept-Language when the answer is sent.
"""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .services import Answer

DETAILS = {
    "unauthorized": _("Send the key's token as “Authorization: Bearer <token>”."),
    "forbidden": _("This key may not do this: it lacks the right, or calls from elsewhere."),
    "missing_right": _("This key lacks the right for this call."),
    "owner_cannot_act": _(
        "The user who created this key may not do this (any more): a key never does more "
        "than its user."
    ),
    "invalid": _("The request is not valid: correct the fields named."),
    "not_found": _("Nothing of that name in this key's part of the tree."),
    "idempotency_key_reused": _("This Idempotency-Key was used for another request."),
    "four_eyes": _("Four eyes: another person must do this."),
    "busy": _("Other changes to these cards kept colliding with this one; nothing was changed."),
    "export_not_repeated": _(
        "This export was delivered once; PINs are not sent again under the same key."
    ),
    "refused": _("The PIN was not credited."),
    "locked": _("Too many failed tries: wait for the time given, then try again."),
    "out_of_stock": _("No e-PIN of that kind is in stock."),
    "pin_not_shown_again": _("The PIN is not shown again."),
    "not_voided": _("The sale could not be voided."),
}


def detail(code: str) -> str:
    return str(DETAILS.get(code, code))


def error(status: int, code: str, message=None, *, legacy: str | None = None, **extra) -> Answer:
    """An error answer: `code` with its detail (or `message`, already for people); `legacy`
    keeps an older endpoint's `status` field beside them."""
    # A lazy text stays lazy here: `readable` translates it when the answer is sent.
    body = {"code": code, "detail": message if message is not None else DETAILS.get(code, code)}
    if legacy:
        body["status"] = legacy
    return Answer(status, body | extra)


def readable(body: dict, status: int) -> dict:
    """The body as sent: lazy texts translated now, and an error given its code and detail
    when an older answer names only its `status`."""
    body = {k: str(v) if isinstance(v, Promise) else v for k, v in body.items()}
    if status >= 400 and "code" not in body and isinstance(body.get("status"), str):
        body["code"] = body["status"]
        body["detail"] = detail(body["status"])
    return body
