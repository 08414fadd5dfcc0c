"""The e-PIN endpoints of API version 1, registered on `v1.api` (imported by `api.urls`)."""

from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from ninja import Field, Header
from pydantic import BaseModel, field_validator, model_validator

from . import epins
from .epin_mail import email_language
from .v1 import COMMON, Currency, Forbidden, KeyReused, Money, _key_and_account, _respond, api


class EpinIn(BaseModel):
    product: str | None = Field(
        None, min_length=1, max_length=40, description="A product code the operator defined."
    )
    amount: Money | None = None
    currency: Currency | None = None
    email: str | None = Field(
        None, max_length=254, description="Send the PIN to this address instead of answering it."
    )
    language: str | None = Field(
        None,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,2}$",
        max_length=35,
        description="The e-mail's language (else the request's Accept-Language).",
        examples=["es"],
    )

    @field_validator("email")
    @classmethod
    def _an_address(cls, value):
        if value is not None:
            try:
                validate_email(value)
            except DjangoValidationError:
                raise ValueError("Enter a valid e-mail address.") from None
        return value

    @model_validator(mode="after")
    def _product_or_amount(self):
        if (self.amount or self.currency) if self.product else not (self.amount and self.currency):
            raise ValueError("Send a product, or an amount and a currency.")
        return self


class Sold(BaseModel):
    status: Literal["sold"]
    sale: int
    card: str = Field(examples=["101-00000007"])
    amount: Money
    currency: Currency
    expires_at: str | None
    pin: str | None = Field(
        None, description="Shown in this answer (and a retry's within minutes) only."
    )
    delivery: Literal["email", "email_failed"] | None = Field(
        None, description="With an e-mail address: the PIN went there, not into the answer."
    )


class Status(BaseModel):
    status: str


class FourEyesRefusal(BaseModel):
    status: Literal["four_eyes"]
    reason: str = Field(description="Whose series and why another person's key must sell it.")


class Voided(BaseModel):
    status: Literal["voided"]
    sale: int


class NotVoided(BaseModel):
    status: Literal["not_voided"]
    code: Literal["too_late", "voided", "changed"]
    reason: str


@api.post(
    "/epins",
    response=COMMON
    | {201: Sold, 403: Forbidden | FourEyesRefusal, 409: KeyReused, 410: Status, 422: Status},
    summary="Sell an e-PIN",
)
def epin_sell(
    request: HttpRequest,
    response: HttpResponse,
    body: EpinIn,
    idempotency_key: str = Header(
        alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$"
    ),
):
    key, _ = _key_and_account(request, "")
    answer = epins.epin_request(
        key=key,
        idempotency_key=idempotency_key,
        product=body.product,
        amount=Decimal(body.amount) if body.amount else None,
        currency=body.currency,
        email=body.email,
        language=email_language(
            requested=body.language, accept_language=request.headers.get("Accept-Language", "")
        )
        if body.email
        else None,
    )
    response["Cache-Control"] = "no-store"
    return _respond(answer, response)


@api.post(
    "/epins/{sale}/void",
    response={200: Voided, 404: Status, 409: NotVoided} | COMMON,
    summary="Void an e-PIN sale within minutes",
)
def epin_void(request: HttpRequest, response: HttpResponse, sale: int):
    key, _ = _key_and_account(request, "")
    return _respond(epins.epin_void(key=key, sale_id=sale), response)
