"""What changes state through the API and its key pages: keys, and idempotent redemption."""

import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_variables

from billing.models import Account
from resellers.models import AuditEvent, Reseller, audit
from resellers.scoping import reseller_ids_visible_to
from topup.pins import InvalidPin, pin_service
from topup.services import Credit, IdempotencyClaim, RedeemOutcome, card_redeem

from .keys import api_key_tokens
from .models import RIGHT_PERMISSIONS, ApiKey, ApiRight, IdempotencyRecord
from .selectors import api_key_and_account

MAX_NETWORKS = 50
# How stale `last_used_at` may get before a call writes it again.
LAST_USE_RESOLUTION = timedelta(minutes=1)


# --- keys -----------------------------------------------------------------------------------
def parse_networks(text: str) -> list[str]:
    """Networks typed one per line or separated by commas or spaces, normalised ("10.1.2.3"
    becomes "10.1.2.3/32"); ValidationError names the first bad one."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValidationError(
                f"{item[:50]!r} is not an address or a network (e.g. 192.0.2.0/24)."
            ) from None
        if str(network) not in networks:
            networks.append(str(network))
    if not networks:
        raise ValidationError("Name at least one allowed network (0.0.0.0/0 allows any IPv4).")
    if len(networks) > MAX_NETWORKS:
        raise ValidationError(f"At most {MAX_NETWORKS} networks.")
    return networks


def api_key_create(
    *, user, name: str, reseller: Reseller, networks: list[str], rights: list[str] = ()
) -> tuple[ApiKey, str]:
    """A new key and its token. The token is returned this once and never stored; audited.

    The user needs the right to manage keys and the reseller must be in the user's subtree.
    """
    if not user.has_perm("api.manage_api_keys"):
        raise PermissionDenied
    if reseller.pk not in reseller_ids_visible_to(user):
        raise PermissionDenied
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError("A name of 1 to 100 characters says what the key is for.")
    networks = parse_networks(" ".join(networks))
    rights = sorted({ApiRight(right).value for right in rights})
    if beyond := rights_beyond(user=user, rights=rights):
        raise ValidationError(
            {
                "rights": gettext(
                    "You may not give a key rights you do not hold yourself: %(rights)s."
                )
                % {"rights": ", ".join(str(ApiRight(right).label) for right in beyond)}
            }
        )
    public_id, digest, token = api_key_tokens.make()
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name,
            reseller=reseller,
            public_id=public_id,
            secret_digest=digest,
            allowed_networks=networks,
            rights=rights,
            created_by=user,
        )
        audit(
            AuditEvent.Action.API_KEY_CREATED,
            actor=user,
            key=public_id,
            name=name,
            reseller=reseller.pk,
            networks=networks,
            **({"rights": rights} if rights else {}),
        )
    return key, token


def api_key_revoke(*, user, key: ApiKey) -> bool:
    """Revoke a key for good (its next call is refused); audited. False if it already was."""
    if not user.has_perm("api.manage_api_keys"):
        raise PermissionDenied
    if key.reseller_id not in reseller_ids_visible_to(user):
        raise PermissionDenied
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=user
        )
        if revoked:
            audit(AuditEvent.Action.API_KEY_REVOKED, actor=user, key=key.public_id, name=key.name)
    if revoked:
        key.revoked_at, key.revoked_by = now, user
    return bool(revoked)


def rights_beyond(*, user, rights) -> list[str]:
    """The rights among `rights` whose panel permissions `user` lacks (a key acts for the user
    who made it and never does more than that user may)."""
    return [
        right
        for right in rights
        if not all(user.has_perm(perm) for perm in RIGHT_PERMISSIONS[ApiRight(right)])
    ]


class NotAuthenticated(Exception):
    """No active key has this token."""


class AddressNotAllowed(Exception):
    """A valid key used from outside its allowed networks."""


@sensitive_variables("token", "secret")
def api_key_authenticate(
    *, token: str, address: str, account_number: str
) -> tuple[ApiKey, Account | None]:
    """The active key this token belongs to, and the account with this number if the key
    may act on it (else None), read together in one query. NotAuthenticated for a token of
    no active key (whatever the number), AddressNotAllowed from elsewhere.

    Records the key's last use (to the minute, so that one key's calls do not queue on its
    row).
    """
    parsed = api_key_tokens.parse(token)
    if parsed is None:
        raise NotAuthenticated
    public_id, secret = parsed
    key, account = api_key_and_account(public_id, account_number)
    if key is None or not key.is_active or not api_key_tokens.check(secret, key.secret_digest):
        raise NotAuthenticated
    if not key.allows(address):
        raise AddressNotAllowed
    now = timezone.now()
    if key.last_used_at is None or key.last_used_at < now - LAST_USE_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_from=address)
        key.last_used_at, key.last_used_from = now, address
    return key, account


# --- calls ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """An API answer: status code and JSON body (and Retry-After for a lockout)."""

    status: int
    body: dict = field(default_factory=dict)
    retry_after: int = 0
    replayed: bool = False


FORBIDDEN = Answer(403, {"status": "forbidden"})
KEY_REUSED = Answer(409, {"status": "idempotency_key_reused"})


def money(value) -> str:
    return f"{value:.2f}"


def account_balance(*, account: Account | None) -> Answer:
    """The balance of an account the key may act on (`api_key_authenticate`); 403 for any
    other number."""
    if account is None:
        return FORBIDDEN
    return Answer(
        200,
        {
            "account": account.number,
            "balance": money(account.balance),
            "currency": account.currency,
        },
    )


@sensitive_variables("pin")
def request_fingerprint(*, account_number: str, pin: str) -> str:
    """What identifies a redemption request, without revealing its PIN: the account and the
    keyed PIN digest (the same digits typed with or without spaces give the same one)."""
    try:
        pin_digest = pin_service.digest(pin_service.normalise(pin))
    except InvalidPin:
        pin_digest = pin_service.digest(pin)
    return hashlib.sha256(f"{account_number}\n{pin_digest}".encode()).hexdigest()


# The answers of the redemption endpoint, as the redemption stores them for a retry (a
# credit's values filled in by its statement); LOCKED is never stored: nothing was evaluated.
_CREDIT = {
    "amount": Credit.AMOUNT,
    "currency": Credit.CURRENCY,
    "balance": Credit.BALANCE,
    "card": Credit.CARD,
}
ANSWERS = {
    RedeemOutcome.SUCCESS: (201, {"status": "credited", **_CREDIT}),
    RedeemOutcome.ALREADY: (200, {"status": "already_credited", **_CREDIT}),
    RedeemOutcome.FAILED: (422, {"status": "refused"}),
}


@sensitive_variables("pin")
def redemption_request(
    *,
    key: ApiKey,
    account: Account | None,
    account_number: str,
    pin: str,
    idempotency_key: str,
    client_address: str,
) -> Answer:
    """Redeem a PIN for an account through the API, at most once per idempotency key.

    An account outside the key's subtree answers like an unknown one. `card_redeem` runs with
    the key as the client (lockout per account and per key) and this call's idempotency claim:
    it stores the answer in the transaction (for a credit, the statement) that evaluates the
    PIN, and holds back a call whose idempotency key has an answer already, which is then
    replayed (409 if it was another request's). A lockout's answer is not stored: nothing was
    evaluated. The unique index on (key, idempotency key) makes a second answer for one key
    impossible. `account` is the one `api_key_authenticate` read with the key. A credit is two
    round trips: the key with the account, then the credit.
    """
    if account is None:
        return FORBIDDEN
    claim = IdempotencyClaim(
        record=IdempotencyRecord,
        api_key_id=key.pk,
        key=idempotency_key,
        fingerprint=request_fingerprint(account_number=account_number, pin=pin),
        created_at=timezone.now(),
        answers=ANSWERS,
    )
    result = card_redeem(
        account=account,
        typed_pin=pin,
        client_address=client_address,
        api_key=key.public_id,
        idempotency=claim,
    )
    if result.outcome == RedeemOutcome.HELD:
        return _replay(claim)
    if result.outcome == RedeemOutcome.LOCKED:
        return Answer(
            429, {"status": "locked", "retry_after": result.retry_after}, result.retry_after
        )
    status, body = claim.answer(result, account.currency)
    return Answer(status, body)


def idempotency_records_purge(*, older_than: timedelta) -> int:
    """Forget stored answers older than `older_than`; how many were deleted.

    A retry after that is a new request: for a PIN this account already redeemed it answers
    "already_credited", so nothing is ever credited twice, only the first answer is gone.
    """
    if older_than < timedelta(hours=1):
        raise ValidationError("Keep the answers at least an hour: gateways retry for a while.")
    cutoff = timezone.now() - older_than
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _replay(claim: IdempotencyClaim) -> Answer:
    """The answer stored for this idempotency key, for a retry of the same request; 409 for
    another request under the same idempotency key."""
    record = IdempotencyRecord.objects.get(api_key_id=claim.api_key_id, key=claim.key)
    if record.fingerprint != claim.fingerprint:
        return KEY_REUSED
    return Answer(record.status_code, record.body, replayed=True)
