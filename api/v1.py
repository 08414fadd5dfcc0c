"""The redemption API, version 1: JSON under /api/v1/, described at /api/v1/openapi.json."""

import logging
import time
from functools import wraps
from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_variables
from ninja import Field, Header, NinjaAPI, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer
from pydantic import BaseModel

from config.client_address import client_address

from . import services
from .errors import readable
from .keys import api_key_tokens

logger = logging.getLogger("api.calls")

Money = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]{2}$", examples=["10.00"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["USD"])]


class RedemptionIn(BaseModel):
    account: str = Field(
        min_length=1, max_length=32, description="The account number.", examples=["100000009"]
    )
    pin: str = Field(
        min_length=1,
        max_length=64,
        description="The PIN as typed (spaces and dashes are ignored).",
        examples=["1234 5678 9012"],
    )


class Credited(BaseModel):
    status: Literal["credited"]
    amount: Money
    currency: Currency
    balance: Money
    card: str = Field(examples=["101-00000007"])


class AlreadyCredited(Credited):
    status: Literal["already_credited"]


class ErrorCode(BaseModel):
    """What every error answer carries: a stable code, and a detail for people."""

    code: str = Field(
        pattern=r"^[a-z_]+$", description="Stable English identifier.", examples=["not_found"]
    )
    detail: str = Field(description="For people, in the request's Accept-Language.")


class Refused(ErrorCode):
    status: Literal["refused"]


class Locked(ErrorCode):
    status: Literal["locked"]
    retry_after: int = Field(ge=1, description="Seconds until the next try is evaluated.")


class Balance(BaseModel):
    account: str
    balance: Money
    currency: Currency


class FieldError(BaseModel):
    field: str
    message: str


class Invalid(ErrorCode):
    status: Literal["invalid"]
    errors: list[FieldError]


class Unauthorized(ErrorCode):
    status: Literal["unauthorized"]


class Forbidden(ErrorCode):
    status: Literal["forbidden"]


class KeyReused(ErrorCode):
    status: Literal["idempotency_key_reused"]


COMMON = {400: Invalid, 401: Unauthorized, 403: Forbidden}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the next try is evaluated.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


class BearerKey(HttpBearer):
    """`Authorization: Bearer <token>` shaped like a key's token. Whether it is an active
    key's, used from one of its networks, is decided with the call's account (`_key_and_account`),
    in the same query."""

    def __call__(self, request: HttpRequest):
        # Parsed here rather than by HttpBearer, which logs a malformed header in DEBUG.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, token.strip())

    @sensitive_variables("token")
    def authenticate(self, request: HttpRequest, token: str):
        return token if api_key_tokens.parse(token) else None


@sensitive_variables("token")
def _key_and_account(request: HttpRequest, number: str):
    """The call's key and account (None outside the key's subtree); 401 for a token of no
    active key, 403 from outside the key's networks."""
    token = request.auth
    try:
        key, account = services.api_key_authenticate(
            token=token, address=client_address(request), account_number=number
        )
    except services.NotAuthenticated:
        raise AuthenticationError from None
    except services.AddressNotAllowed:
        raise HttpError(403, "forbidden") from None
    request.api_key, request.api_account = key, number[:32]
    return key, account


api = NinjaAPI(
    title="Top-up redemption API",
    version="1",
    description=(
        "Redeem top-up card PINs for customer accounts and read balances, for IVR, USSD "
        "gateways and switches. See docs/api.md."
    ),
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url=None,  # the interactive docs would load assets from a CDN
    auth=BearerKey(),
)


def _log_call(view):
    """One log line per call, whatever its outcome: never the PIN, never the token."""

    @wraps(view)
    def logged(request, *args, **kwargs):
        started = time.perf_counter()
        response = view(request, *args, **kwargs)
        key = getattr(request, "api_key", None)
        logger.info(
            "%s %s %s key=%s account=%s idempotency_key=%s address=%s %.1fms",
            request.method,
            request.path,
            response.status_code,
            key.public_id if key else "-",
            getattr(request, "api_account", "-"),
            request.headers.get("Idempotency-Key", "-")[:255],
            client_address(request),
            (time.perf_counter() - started) * 1000,
        )
        return response

    return logged


api.add_decorator(_log_call, mode="view")


def _respond(answer: services.Answer, response: HttpResponse) -> Status:
    if answer.retry_after:
        response["Retry-After"] = str(answer.retry_after)
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(answer.status, readable(answer.body, answer.status))


@api.post(
    "/redemptions",
    response={201: Credited, 200: AlreadyCredited, 409: KeyReused, 422: Refused, 429: Locked}
    | COMMON,
    summary="Redeem a PIN for an account",
    openapi_extra={"responses": {429: {"description": "Locked out", "headers": RETRY_AFTER}}},
)
@sensitive_variables("body")
def redeem(
    request: HttpRequest,
    response: HttpResponse,
    body: RedemptionIn,
    idempotency_key: str = Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Chosen by the client, unique per request; a retry reuses it.",
    ),
):
    key, account = _key_and_account(request, body.account)
    answer = services.redemption_request(
        key=key,
        account=account,
        account_number=body.account,
        pin=body.pin,
        idempotency_key=idempotency_key,
        client_address=client_address(request),
    )
    return _respond(answer, response)


@api.get(
    "/accounts/{number}/balance",
    response={200: Balance} | COMMON,
    summary="The balance of an account",
)
def balance(request: HttpRequest, response: HttpResponse, number: str):
    _, account = _key_and_account(request, number)
    return _respond(services.account_balance(account=account), response)


# Every answer, errors included, is one of the documented bodies.
@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    body = readable({"status": "unauthorized"}, 401)
    response = api.create_response(request, body, status=401)
    response["WWW-Authenticate"] = "Bearer"
    return response


# pydantic's errors for a body that is JSON but not an object; their messages name the schema.
NOT_AN_OBJECT = {"model_type", "model_attributes_type", "dict_type"}


def _send_an_object() -> dict:
    return {"field": "body", "message": gettext("Send a JSON object.")}


@api.exception_handler(ValidationError)
def _invalid(request, exc):
    errors = [
        _send_an_object()
        if error.get("type") in NOT_AN_OBJECT
        else {
            "field": ".".join(str(part) for part in error.get("loc", ())[1:]) or "body",
            "message": error.get("msg", "invalid"),
        }
        for error in exc.errors
    ]
    body = readable({"status": "invalid", "errors": errors}, 400)
    return api.create_response(request, body, status=400)


@api.exception_handler(HttpError)
def _http_error(request, exc):
    if exc.status_code == 403:
        return api.create_response(request, readable({"status": "forbidden"}, 403), status=403)
    # A body that is not JSON, and the like: nothing of it is echoed back.
    body = readable({"status": "invalid", "errors": [_send_an_object()]}, 400)
    return api.create_response(request, body, status=400)
