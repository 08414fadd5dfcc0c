"""The operations API's writes (version 1), registered on `v1.api` (imported by `api.urls`).

Each endpoint checks the key's right, then calls the panel's own service as the key's user
(`api.operations`): generation, release, block and unblock (the mass edit's status), void,
the mass edit of expiry and company, the encrypted export. A selection large enough for the
panel to run it in the background answers 202 with the job to poll (`GET /jobs/{id}`).
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Header
from pydantic import BaseModel, Field

from topup.models import PrintShop
from topup.services import (
    MassEdit,
    SeriesRequest,
    cards_export_encrypted,
    cards_mass_update,
    cards_release,
    cards_void,
    series_generate,
)

from .errors import error
from .models import ApiJob, ApiRight
from .operations import Caller, Refusal, fingerprint, idempotent
from .services import Answer
from .v1 import COMMON, Currency, ErrorCode, Money, _key_and_account, _respond, api

Serial = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9]{1,20}-[0-9]{1,12}$", examples=["101-00000001"])
]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
IDEMPOTENCY = {
    "alias": "Idempotency-Key",
    "min_length": 1,
    "max_length": 255,
    "pattern": r"^[\x21-\x7e]+$",
    "description": "Chosen by the client, unique per request; a retry reuses it and gets the "
    "first answer again.",
}


class ApiError(ErrorCode):
    errors: dict[str, list[str]] | None = Field(None, description="Messages by field.")


class Done(BaseModel):
    status: Literal["done"]
    changed: int = Field(ge=0, examples=[500])
    skipped: int = Field(ge=0, examples=[0])


class Queued(BaseModel):
    status: Literal["queued"]
    job: str = Field(description="Poll it: GET /api/v1/jobs/{job}.", examples=["bulk-42"])


class SeriesQueued(Queued):
    series: int = Field(examples=[7])


class RangeIn(BaseModel):
    first: Serial
    last: Serial = Field(examples=["101-00000500"])


class ReleaseIn(RangeIn):
    reseller: Id | None = Field(
        None, description="The reseller (of the key's subtree) that receives the cards."
    )


class MassEditIn(RangeIn):
    expiry: Literal["preserve", "set", "clear"] = "preserve"
    expires_at: datetime | None = Field(None, examples=["2027-12-31T23:59:00Z"])
    company: Literal["preserve", "set"] = "preserve"
    reseller: Id | None = None


class ExportIn(RangeIn):
    shop: Id = Field(description="A registered print shop.", examples=[1])


class SeriesIn(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9]{1,20}$", examples=["101"])
    amount: Money
    currency: Currency | None = Field(None, description="The reseller's currency if omitted.")
    quantity: int = Field(ge=1, le=1_000_000, examples=[1000])
    pin_length: int | None = Field(None, ge=1, le=64, examples=[12])
    expires_at: datetime | None = Field(None, examples=["2027-12-31T23:59:00Z"])
    reseller: Id | None = Field(None, description="The key's own reseller if omitted.")
    label: str = Field("", max_length=100, examples=["Summer promotion"])
    in_stock: bool = Field(True, description="False: released at once (e-PINs).")


WRITES = {200: Done, 202: Queued, 404: ApiError, 409: ApiError, 422: ApiError} | COMMON


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment, UTC)
    return moment


def _run(request, body: BaseModel, right: ApiRight, idempotency_key: str, work) -> Answer:
    """The shared shape of a write: the key, its right and user, then `work(caller)` once per
    Idempotency-Key."""
    key, _ = _key_and_account(request, "")
    try:
        caller = Caller(key, right)
    except Refusal as exc:
        return exc.answer
    return idempotent(
        key=key,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint("POST", request.path, body.model_dump(mode="json")),
        work=lambda: work(caller),
    )


def _write(request, response, body: BaseModel, right: ApiRight, idempotency_key: str, work):
    return _respond(_run(request, body, right, idempotency_key, work), response)


def _examples(*pairs) -> dict:
    """openapi_extra for response examples: (status, example body) pairs."""
    return {
        "responses": {
            status: {"content": {"application/json": {"example": example}}}
            for status, example in pairs
        }
    }


DONE_EXAMPLE = (200, {"status": "done", "changed": 500, "skipped": 0})
QUEUED_EXAMPLE = (202, {"status": "queued", "job": "bulk-42"})
FOUR_EYES_EXAMPLE = (
    409,
    {"code": "four_eyes", "detail": "Four eyes: another person must release series 101."},
)


@api.post(
    "/card-ranges/release",
    response=WRITES,
    summary="Release a serial range for sale, optionally to a reseller",
    openapi_extra=_examples(DONE_EXAMPLE, QUEUED_EXAMPLE, FOUR_EYES_EXAMPLE),
)
def range_release(
    request: HttpRequest,
    response: HttpResponse,
    body: ReleaseIn,
    idempotency_key: str = Header(**IDEMPOTENCY),
):
    def work(caller: Caller):
        receiver = caller.reseller(body.reseller)
        selection, cards = caller.serial_range(body.first, body.last)
        result = cards_release(
            user=caller.user, cards=cards, selection=selection, reseller=receiver
        )
        return caller.bulk_answer(result)

    return _write(request, response, body, ApiRight.RELEASE, idempotency_key, work)


def _status_change(mode: str):
    def work(caller: Caller, body: RangeIn):
        selection, cards = caller.serial_range(body.first, body.last)
        result = cards_mass_update(
            user=caller.user, cards=cards, edit=MassEdit(status_mode=mode), selection=selection
        )
        return caller.bulk_answer(result)

    return work


@api.post(
    "/card-ranges/block",
    response=WRITES,
    summary="Block a serial range (activated and void cards are skipped)",
    openapi_extra=_examples(DONE_EXAMPLE, QUEUED_EXAMPLE),
)
def range_block(
    request: HttpRequest,
    response: HttpResponse,
    body: RangeIn,
    idempotency_key: str = Header(**IDEMPOTENCY),
):
    work = _status_change("block")
    return _write(request, response, body, ApiRight.BLOCK, idempotency_key, lambda c: work(c, body))


@api.post(
    "/card-ranges/unblock",
    response=WRITES,
    summary="Unblock a serial range (back to new if released, else in stock)",
    openapi_extra=_examples(DONE_EXAMPLE, QUEUED_EXAMPLE),
)
def range_unblock(
    request: HttpRequest,
    response: HttpResponse,
    body: RangeIn,
    idempotency_key: str = Header(**IDEMPOTENCY),
):
    work = _status_change("unblock")
    return _write(request, response, body, ApiRight.BLOCK, idempotency_key, lambda c: work(c, body))


@api.post(
    "/card-ranges/void",
    response=WRITES,
    summary="Void a serial range for good (activated cards are never voided)",
    openapi_extra=_examples(DONE_EXAMPLE, QUEUED_EXAMPLE),
)
def range_void(
    request: HttpRequest,
    response: HttpResponse,
    body: RangeIn,
    idempotency_key: str = Header(**IDEMPOTENCY),
):
    def work(caller: Caller):
        selection, cards = caller.serial_range(body.first, body.last)
        result = cards_void(user=caller.user, cards=cards, selection=selection)
        return caller.bulk_answer(result)

    return _write(request, response, body, ApiRight.VOID, idempotency_key, work)


@api.post(
    "/card-ranges/mass-edit",
    response=WRITES,
    summary="Change the expiry and/or the company of a serial range",
    openapi_extra=_examples(
        DONE_EXAMPLE,
        QUEUED_EXAMPLE,
        (
            422,
            {
                "code": "invalid_parameters",
                "detail": "Nothing to change: every field is set to preserve.",
                "errors": {"__all__": ["Nothing to change: every field is set to preserve."]},
            },
        ),
    ),
)
def range_mass_edit(
    request: HttpRequest,
    response: HttpResponse,
    body: MassEditIn,
    idempotency_key: str = Header(**IDEMPOTENCY),
):
    def work(caller: Caller):
        edit = MassEdit(
            expiry_mode=body.expiry,
            expires_at=_aware(body.expires_at),
            reseller_mode=body.company,
            reseller=caller.reseller(body.reseller),
        )
        selection, cards = caller.serial_range(body.first, body.last)
        result = cards_mass_update(user=caller.user, cards=cards, edit=edit, selection=selection)
        return caller.bulk_answer(result)

    return _write(request, response, body, ApiRight.EDIT, idempotency_key, work)


@api.post(
    "/series",
    response={202: SeriesQueued, 404: ApiError, 409: ApiError, 422: ApiError} | COMMON,
    summary="Generate a series in the background; poll the job it answers",
    openapi_extra=_examples((202, {"status": "queued", "job": "series-7", "series": 7})),
)
def series_create(
    request: HttpRequest,
    response: HttpResponse,
    body: SeriesIn,
    idempotency_key: str = Header(**IDEMPOTENCY),
):
    def work(caller: Caller):
        reseller = caller.reseller(body.reseller) or caller.principal.reseller
        series = series_generate(
            user=caller.user,
            request=SeriesRequest(
                reseller=reseller,
                amount=Decimal(body.amount),
                quantity=body.quantity,
                code=body.code,
                currency=body.currency or "",
                expires_at=_aware(body.expires_at),
                label=body.label,
                in_stock=body.in_stock,
                **({"pin_length": body.pin_length} if body.pin_length else {}),
            ),
            background=True,
        )
        job = caller.job(ApiJob.Kind.SERIES, series.pk)
        return Answer(202, {"status": "queued", "job": job, "series": series.pk})

    return _write(request, response, body, ApiRight.GENERATE, idempotency_key, work)


@api.post(
    "/card-ranges/export",
    # 200 is the file itself (a streamed response), documented in openapi_extra only.
    response={404: ApiError, 409: ApiError, 410: ApiError, 422: ApiError} | COMMON,
    summary="Export a serial range's PINs encrypted to a registered print shop (.csv.gpg)",
    openapi_extra={
        "responses": {
            200: {
                "description": "The CSV encrypted to the shop's OpenPGP key, sent this once.",
                "content": {
                    "application/pgp-encrypted": {"schema": {"type": "string", "format": "binary"}}
                },
            },
            410: {
                "description": "A retry of a delivered export: PINs are not sent again.",
                "content": {
                    "application/json": {
                        "example": {
                            "code": "export_not_repeated",
                            "detail": "This export was delivered once.",
                        }
                    }
                },
            },
        }
    },
)
def range_export(
    request: HttpRequest,
    response: HttpResponse,
    body: ExportIn,
    idempotency_key: str = Header(**IDEMPOTENCY),
):
    delivered = {}

    def work(caller: Caller):
        shop = PrintShop.objects.filter(pk=body.shop).first()
        if shop is None:
            raise Refusal(error(404, "not_found"))
        selection, cards = caller.serial_range(body.first, body.last)
        delivered["chunks"] = cards_export_encrypted(
            user=caller.user, cards=cards, selection=selection, shop=shop
        )
        return Answer(200, {"status": "exported", "shop": shop.pk})

    answer = _run(request, body, ApiRight.EXPORT, idempotency_key, work)
    if "chunks" not in delivered:
        if answer.status == 200:  # a replay of a delivered export: never the PINs again
            answer = error(410, "export_not_repeated")
        return _respond(answer, response)
    streamed = StreamingHttpResponse(delivered["chunks"], content_type="application/pgp-encrypted")
    streamed["Content-Disposition"] = 'attachment; filename="cards.csv.gpg"'
    streamed["Cache-Control"] = "no-store"
    return streamed
