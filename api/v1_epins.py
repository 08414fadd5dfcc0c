"""The e-PIN endpoints of API version 1, registered on `v1.api` (imported by `api.urls`)."""

from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from ninja import Field, Header
from pydantic import BaseModel, field_validator, model_validator

from . import epins
from .v1 import COMMON, Currency, KeyReused, Money, _key_and_account, _respond, api


class EpinIn(BaseModel):
    product: str | None = Field(
        None, min_length=1, max_length=40, description="A product code the operator defined."
    )
    amount: Money | None = None
    currency: Currency | None = None
    email: str | None = Field(
        None, max_length=254, description="Send the PIN to this address instead of answering it."
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


class Voided(BaseModel):
    status: Literal["voided"]
    sale: int


class NotVoided(BaseModel):
    status: Literal["not_voided"]
    reason: str


@api.post(
    "/epins",
    response={201: Sold, 409: KeyReused, 410: Status, 422: Status} | COMMON,
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
