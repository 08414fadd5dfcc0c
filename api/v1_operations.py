"""The operations API's reads (version 1), for keys with the `read` right: series with cursor
pagination, one series with its reconciliation, a card by its number (never its PIN). Another
subtree's series or card answers 404, like one that does not exist."""

import base64
import binascii
from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query
from pydantic import BaseModel, Field

from topup.history import card_history
from topup.models import Series
from topup.selectors import (
    RECONCILIATION_COLUMNS,
    cards_visible_to,
    reconciliation,
    series_with_counts,
)

from .errors import error
from .models import ApiRight
from .operations import Caller, Refusal
from .services import Answer, money
from .v1 import COMMON, Currency, ErrorCode, Money, _key_and_account, _respond, api

NO_RIGHT = error(403, "missing_right", legacy="forbidden")
NOT_FOUND = error(404, "not_found", legacy="not_found")


class Figure(BaseModel):
    count: int
    value: Money


class SeriesOut(BaseModel):
    id: int
    code: str
    amount: Money
    currency: Currency
    quantity: int
    first_card: str
    last_card: str
    reseller: str
    state: str
    created_at: str
    expires_at: str | None


class SeriesPage(BaseModel):
    results: list[SeriesOut]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class SeriesDetail(SeriesOut):
    reconciliation: dict[str, Figure]


class HistoryOut(BaseModel):
    when: str
    what: str
    who: str
    detail: str


class CardOut(BaseModel):
    number: str
    status: Literal["in_stock", "new", "activated", "expired", "blocked", "void"]
    series: int
    amount: Money
    currency: Currency
    reseller: str
    released_at: str | None
    activated_at: str | None
    expires_at: str | None
    history: list[HistoryOut] = Field(description="What happened to the card, oldest first.")


class NotFound(ErrorCode):
    status: Literal["not_found"]


class Page(BaseModel):
    cursor: str | None = Field(None, max_length=40)
    limit: int = Field(50, ge=1, le=200)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _series(s: Series) -> dict:
    return {
        "id": s.pk,
        "code": s.code,
        "amount": money(s.amount),
        "currency": s.currency,
        "quantity": s.quantity,
        "first_card": f"{s.code}-{s.first_number:08d}",
        "last_card": f"{s.code}-{s.last_number:08d}",
        "reseller": s.reseller.name,
        "state": s.state,
        "created_at": s.created_at.isoformat(),
        "expires_at": _iso(s.expires_at),
    }


def _cursor(value: str | None) -> int | None:
    """The id a cursor stands for; None for none or a cursor this API did not make."""
    if not value:
        return None
    try:
        decoded = base64.urlsafe_b64decode(value.encode() + b"==").decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(decoded) if decoded.isdigit() and len(decoded) < 19 else None


def _reader(request: HttpRequest):
    """The key's scope, for a key with the read right whose user may still read cards."""
    key, _ = _key_and_account(request, "")
    try:
        return Caller(key, ApiRight.READ).principal
    except Refusal:
        return None


@api.get("/series", response={200: SeriesPage} | COMMON, summary="List series, newest first")
def series_list(request: HttpRequest, response: HttpResponse, page: Query[Page]):
    principal = _reader(request)
    if principal is None:
        return _respond(NO_RIGHT, response)
    series = Series.objects.visible_to(principal).select_related("reseller").order_by("-pk")
    if (after := _cursor(page.cursor)) is not None:
        series = series.filter(pk__lt=after)
    rows = list(series[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    following = (
        base64.urlsafe_b64encode(str(rows[-1].pk).encode()).decode().rstrip("=") if more else None
    )
    body = {"results": [_series(s) for s in rows], "next": following}
    return _respond(Answer(200, body), response)


@api.get(
    "/series/{series_id}",
    response={200: SeriesDetail, 404: NotFound} | COMMON,
    summary="One series with its reconciliation",
)
def series_detail(request: HttpRequest, response: HttpResponse, series_id: int):
    principal = _reader(request)
    if principal is None:
        return _respond(NO_RIGHT, response)
    found = (
        Series.objects.visible_to(principal).select_related("reseller").filter(pk=series_id).first()
    )
    if found is None:
        return _respond(NOT_FOUND, response)
    (found,) = series_with_counts(principal, [found])
    row = reconciliation(found)
    figures = {
        name: {"count": row[name][0], "value": money(row[name][1])}
        for name in ["generated", *(key for key, _ in RECONCILIATION_COLUMNS), "elsewhere"]
    }
    return _respond(Answer(200, {**_series(found), "reconciliation": figures}), response)


@api.get(
    "/cards/{number}",
    response={200: CardOut, 404: NotFound} | COMMON,
    summary="Look up a card by its number (never its PIN)",
)
def card_detail(request: HttpRequest, response: HttpResponse, number: str):
    principal = _reader(request)
    if principal is None:
        return _respond(NO_RIGHT, response)
    card = (
        cards_visible_to(principal)
        .with_display_status()
        .select_related("reseller")
        .filter(number=number[:40])
        .first()
    )
    if card is None:
        return _respond(NOT_FOUND, response)
    body = {
        "number": card.number,
        "status": card.display_status,
        "series": card.series_id,
        "amount": money(card.amount),
        "currency": card.currency,
        "reseller": card.reseller.name,
        "released_at": _iso(card.released_at),
        "activated_at": _iso(card.activated_at),
        "expires_at": _iso(card.expires_at),
        "history": [
            {
                "when": entry.when.isoformat(),
                "what": entry.what,
                "who": entry.who,
                "detail": entry.detail,
            }
            for entry in card_history(principal, card)
        ],
    }
    return _respond(Answer(200, body), response)
