"""The jobs a key started (to poll) and the liability figures, registered on `v1.api`."""

from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query
from pydantic import BaseModel, Field

from topup.models import BulkJob, Series
from topup.reports import FIGURES, liability_report

from .errors import error
from .models import ApiJob, ApiRight
from .operations import Caller, Refusal
from .scope import key_principal
from .services import Answer, money
from .v1 import COMMON, Currency, ErrorCode, Money, _key_and_account, _respond, api

JOB_ID = r"^(series|bulk)-[0-9]{1,18}$"


class JobOut(BaseModel):
    id: str = Field(examples=["bulk-42"])
    kind: Literal["series", "bulk"]
    state: Literal["pending", "running", "done", "failed"]
    progress: int = Field(ge=0, description="Cards written (series) or walked (bulk) so far.")
    total: int | None
    changed: int | None = Field(description="Cards changed (bulk), null for a series.")
    error: str
    series: int | None = Field(description="The series being generated, for a series job.")


class ApiError(ErrorCode):
    pass


def _job_body(kind: str, pk: int) -> dict | None:
    if kind == ApiJob.Kind.SERIES:
        s = Series.objects.filter(pk=pk).first()
        if s is None:
            return None
        total, changed, series = s.quantity, None, s.pk
        job = s
    else:
        job = BulkJob.objects.filter(pk=pk).first()
        if job is None:
            return None
        total, changed, series = job.total, job.changed, None
    return {
        "id": f"{kind}-{pk}",
        "kind": kind,
        "state": job.state,
        "progress": job.progress,
        "total": total,
        "changed": changed,
        "error": job.error,
        "series": series,
    }


@api.get(
    "/jobs/{job}",
    response={200: JobOut, 404: ApiError} | COMMON,
    summary="A job this key's part of the tree started: its state and progress",
    openapi_extra={
        "responses": {
            200: {
                "content": {
                    "application/json": {
                        "example": {
                            "id": "bulk-42",
                            "kind": "bulk",
                            "state": "done",
                            "progress": 20000,
                            "total": 20000,
                            "changed": 19990,
                            "error": "",
                            "series": None,
                        }
                    }
                }
            }
        }
    },
)
def job_detail(request: HttpRequest, response: HttpResponse, job: str):
    key, _ = _key_and_account(request, "")
    principal = key_principal(key)
    kind, _, pk = job[:40].partition("-")
    found = None
    if kind in ApiJob.Kind.values and pk.isdigit() and len(pk) < 19:
        found = ApiJob.objects.filter(
            kind=kind,
            object_id=int(pk),
            api_key__reseller_id__in=principal._visible_reseller_ids,
        ).first()
    body = _job_body(found.kind, found.object_id) if found else None
    if body is None:
        return _respond(error(404, "not_found"), response)
    return _respond(Answer(200, body), response)


class LiabilityIn(BaseModel):
    months: int = Field(12, ge=1, le=36)


class LiabilityRowOut(BaseModel):
    month: str = Field(examples=["2026-11-01"])
    currency: Currency
    issued: Money
    redeemed: Money
    expired: Money
    blocked_void: Money
    outstanding: Money


class LiabilityOut(BaseModel):
    totals: list[LiabilityRowOut]


@api.get(
    "/liability",
    response={200: LiabilityOut} | COMMON,
    summary="The liability figures of the key's part of the tree, by month and currency",
    openapi_extra={
        "responses": {
            200: {
                "content": {
                    "application/json": {
                        "example": {
                            "totals": [
                                {
                                    "month": "2026-11-01",
                                    "currency": "USD",
                                    "issued": "5000.00",
                                    "redeemed": "1200.00",
                                    "expired": "0.00",
                                    "blocked_void": "100.00",
                                    "outstanding": "3700.00",
                                }
                            ]
                        }
                    }
                }
            }
        }
    },
)
def liability(request: HttpRequest, response: HttpResponse, query: Query[LiabilityIn]):
    key, _ = _key_and_account(request, "")
    try:
        principal = Caller(key, ApiRight.READ).principal
    except Refusal as exc:
        return _respond(exc.answer, response)
    report = liability_report(principal, months=query.months)
    totals = [
        {
            "month": row.month.isoformat(),
            "currency": row.currency,
            **{name: money(row.figures[name]) for name in FIGURES},
        }
        for row in report.totals
    ]
    return _respond(Answer(200, {"totals": totals}), response)
