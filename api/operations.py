"""The operations API's writes: a key's call turned into a call of the panel's own service.

A key acts for its reseller's subtree and for the user who created it. Each write needs the
key's right (`ApiRight`) and then runs the same service the panel's page runs, as that user:
the service checks the user's permissions, scope, four eyes and the action's rules itself, so
the API has no rule of its own and a key never does more than its user may. The cards of a
serial range are chosen by the card list's own search (`cards_for_selection`) narrowed to the
key's reseller, so a background job replays exactly the key's selection.

Every POST is idempotent like a redemption: the `IdempotencyRecord` is inserted in the same
transaction as the change, so a second request with the same key waits on its unique index,
then replays the first answer (the same body) or answers 409 (another body).
"""

import hashlib
import json
from collections.abc import Callable
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from resellers.models import Reseller, User
from topup.selectors import cards_for_selection
from topup.services import BulkResult, FourEyesRefused
from topup.services.bulk.actions import BulkBusy

from .errors import error, readable
from .models import ApiJob, ApiKey, ApiRight, IdempotencyRecord
from .scope import KeyPrincipal, key_principal
from .services import Answer, rights_beyond

MISSING_RIGHT = error(403, "missing_right", legacy="forbidden")
OWNER_CANNOT_ACT = error(403, "owner_cannot_act", legacy="forbidden")
NOT_FOUND = error(404, "not_found")


class Refusal(Exception):
    """A call that ends before the service: its answer (no right, an object not found)."""

    def __init__(self, answer: Answer):
        super().__init__(answer.body.get("code"))
        self.answer = answer


class _NotStored(Exception):
    """An answer that must not be replayed (a transient collision): the record is undone."""

    def __init__(self, answer: Answer):
        super().__init__(answer.body.get("code"))
        self.answer = answer


class Caller:
    """Who a key's write acts as: the key, its scope (`principal`) and its user."""

    def __init__(self, key: ApiKey, right: ApiRight):
        if not key.has_right(right):
            raise Refusal(MISSING_RIGHT)
        user = User.objects.select_related("reseller").filter(pk=key.created_by_id).first()
        if user is None or not user.is_active or rights_beyond(user=user, rights=[right]):
            raise Refusal(OWNER_CANNOT_ACT)
        self.key, self.user, self.right = key, user, right
        self.principal: KeyPrincipal = key_principal(key)

    def reseller(self, pk: int | None) -> Reseller | None:
        """A reseller of the key's subtree (None for None); another subtree's is not found."""
        if pk is None:
            return None
        if pk not in self.principal._visible_reseller_ids:
            raise Refusal(NOT_FOUND)
        return Reseller.objects.get(pk=pk)

    def serial_range(self, first: str, last: str) -> tuple[dict, object]:
        """The selection (as a background job replays it) and the cards of a serial range,
        through the card list's own search, narrowed to the key's reseller's subtree."""
        search = urlencode(
            {"serials_min": first, "serials_max": last, "reseller": self.principal.reseller_id}
        )
        selection = {"search": search}
        return selection, cards_for_selection(self.user, selection)

    def job(self, kind: ApiJob.Kind, pk: int) -> str:
        """Record that this key started the job; its id for `GET /jobs/{id}`."""
        ApiJob.objects.create(api_key=self.key, kind=kind, object_id=pk)
        return f"{kind}-{pk}"

    def bulk_answer(self, result: BulkResult) -> Answer:
        if result.job is not None:
            job = self.job(ApiJob.Kind.BULK, result.job.pk)
            return Answer(202, {"status": "queued", "job": job})
        return Answer(200, {"status": "done", "changed": result.changed, "skipped": result.skipped})


def fingerprint(method: str, path: str, body: dict) -> str:
    """What identifies a request: its method, path and body (keys sorted)."""
    text = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _refusals(work: Callable[[], Answer]) -> Answer:
    """The service's answer, or its refusal as an error answer (nothing changed then)."""
    try:
        with transaction.atomic():
            return work()
    except Refusal as exc:
        return exc.answer
    except FourEyesRefused as exc:
        return error(409, "four_eyes", " ".join(exc.messages))
    except BulkBusy:
        raise _NotStored(error(409, "busy")) from None
    except PermissionDenied:
        return OWNER_CANNOT_ACT
    except ValidationError as exc:
        errors = (
            {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {"__all__": [str(m) for m in exc.messages]}
        )
        detail = " ".join(m for messages in errors.values() for m in messages)
        return error(422, "invalid_parameters", detail, errors=errors)


def idempotent(
    *, key: ApiKey, idempotency_key: str, request_fingerprint: str, work: Callable[[], Answer]
) -> Answer:
    """Run `work` at most once per (key, Idempotency-Key): the first answer is stored with
    the change, in its transaction, and replayed for the same request; another request under
    the same Idempotency-Key answers 409 `idempotency_key_reused`."""
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                api_key=key, key=idempotency_key, fingerprint=request_fingerprint
            )
            answer = _refusals(work)
            record.status_code = answer.status
            record.body = readable(answer.body, answer.status)
            record.save(update_fields=["status_code", "body"])
    except _NotStored as exc:
        return exc.answer
    except IntegrityError:
        record = IdempotencyRecord.objects.filter(api_key=key, key=idempotency_key).first()
        if record is None:
            raise  # not the record's index: the error stands
        if record.fingerprint != request_fingerprint:
            return error(409, "idempotency_key_reused", legacy="idempotency_key_reused")
        return Answer(record.status_code, record.body, replayed=True)
    return answer
