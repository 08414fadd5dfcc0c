import json

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from api import services
from api.keys import api_key_tokens
from api.models import ApiKey
from resellers.models import AuditEvent, User
from resellers.services import reseller_move
from tests.api.conftest import balance_url, error_body, redeem
from tests.factories import AccountFactory
from topup.models import RedemptionAttempt

LIST = reverse("api:key-list")
CREATE = reverse("api:key-create")


def test_the_secret_is_stored_only_as_a_digest_and_checked_in_constant_time(north_key):
    key, token = north_key
    prefix, public_id, secret = token.split("_", 2)
    assert prefix == "tk" and public_id == key.public_id and len(secret) >= 43
    stored = json.dumps(list(ApiKey.objects.values()), default=str)
    assert secret not in stored and token not in stored
    assert api_key_tokens.check(secret, key.secret_digest)
    assert not api_key_tokens.check(
        secret[:-1] + ("A" if secret[-1] != "A" else "B"), key.secret_digest
    )
    for bad in [
        "",
        "tk_",
        "tk_short_x",
        f"xx_{public_id}_{secret}",
        "tk_" + "é" * 12 + "_x",
        "t" * 200,
    ]:
        assert api_key_tokens.parse(bad) is None


def test_creation_and_revocation_are_audited(north_key, tree):
    key, _ = north_key
    assert services.api_key_revoke(user=tree["operator"], key=key) is True
    assert services.api_key_revoke(user=tree["operator"], key=key) is False
    events = list(AuditEvent.objects.order_by("pk").values_list("action", "actor", "details"))
    assert events == [
        (
            "api_key.created",
            tree["operator"].pk,
            {
                "key": key.public_id,
                "name": "North IVR",
                "reseller": tree["north"].pk,
                "networks": ["127.0.0.0/8", "::1/128"],
            },
        ),
        ("api_key.revoked", tree["operator"].pk, {"key": key.public_id, "name": "North IVR"}),
    ]


@pytest.mark.django_db
def test_creation_needs_the_right_and_the_scope(tree):
    with pytest.raises(PermissionDenied):  # reseller users may not manage keys by default
        services.api_key_create(
            user=tree["north_user"], name="x", reseller=tree["north"], networks=["10.0.0.0/8"]
        )
    tree["north_user"].user_permissions.add(
        *Permission.objects.filter(codename__in=["manage_api_keys", "view_apikey"])
    )
    north_user = User.objects.get(pk=tree["north_user"].pk)  # permissions are cached
    with pytest.raises(PermissionDenied):  # South is beside North
        services.api_key_create(
            user=north_user, name="x", reseller=tree["south"], networks=["10.0.0.0/8"]
        )
    key, _ = services.api_key_create(
        user=north_user, name="x", reseller=tree["north_retail"], networks=["10.0.0.0/8"]
    )
    assert key.reseller == tree["north_retail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "networks, message",
    [
        ([], "at least one"),
        (["10.0.0.300"], "not an address"),
        ([f"10.0.{i}.0/24" for i in range(51)], "At most 50"),
    ],
)
def test_bad_networks_are_refused(tree, networks, message):
    with pytest.raises(ValidationError, match=message):
        services.api_key_create(
            user=tree["operator"], name="x", reseller=tree["north"], networks=networks
        )
    assert not ApiKey.objects.exists()


def test_no_or_a_bad_key_is_401(client, north_key, account, card):
    key, token = north_key
    _, pin = card
    public_id, secret = api_key_tokens.parse(token)
    for bad in [None, "garbage", f"tk_{public_id}_{secret}x", f"tk_{'0' * 12}_{secret}"]:
        response = redeem(client, bad, account.number, pin)
        assert response.status_code == 401
        assert response.json() == error_body("unauthorized")
        assert response["WWW-Authenticate"] == "Bearer"
    response = client.post(
        "/api/v1/redemptions", headers={"Authorization": f"Basic {token}", "Idempotency-Key": "1"}
    )
    assert response.status_code == 401
    assert not RedemptionAttempt.objects.exists()


def test_a_revoked_key_is_refused_at_once(client, north_key, account, card, tree):
    key, token = north_key
    _, pin = card
    services.api_key_revoke(user=tree["operator"], key=key)
    assert redeem(client, token, account.number, pin).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(balance_url(account.number), headers=auth).status_code == 401
    account.refresh_from_db()
    assert account.balance == 25


def test_a_call_from_outside_the_allowed_networks_is_403(client, tree, account, card):
    _, token = services.api_key_create(
        user=tree["operator"], name="far", reseller=tree["north"], networks=["192.0.2.0/24"]
    )
    _, pin = card
    response = redeem(client, token, account.number, pin)
    assert response.status_code == 403 and response.json() == error_body("forbidden")
    ok = redeem(client, token, account.number, pin, REMOTE_ADDR="192.0.2.77")
    assert ok.status_code == 201


def test_another_resellers_account_answers_exactly_like_an_unknown_one(
    client, north_key, tree, card
):
    _, token = north_key
    _, pin = card
    south = AccountFactory(reseller=tree["south"], currency="EUR", user=None)
    root = AccountFactory(reseller=tree["root"], currency="USD", user=None)
    unknown = "100000000" if south.number != "100000000" else "100000018"
    auth = {"Authorization": f"Bearer {token}"}
    answers = set()
    for number in [south.number, root.number, unknown, "12345", "abc"]:
        response = redeem(client, token, number, pin, f"k-{number}")
        answers.add((response.status_code, response.content))
        response = client.get(balance_url(number), headers=auth)
        answers.add((response.status_code, response.content))
    assert len(answers) == 1  # byte for byte alike
    ((status, content),) = answers
    assert status == 403 and json.loads(content) == error_body("forbidden")
    assert not RedemptionAttempt.objects.exists()
    south.refresh_from_db()
    assert south.balance == 0


def test_the_scope_follows_a_reseller_moved_in_the_tree(client, north_key, tree):
    _, token = north_key
    south_account = AccountFactory(reseller=tree["south"], currency="EUR", user=None)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(balance_url(south_account.number), headers=auth).status_code == 403
    reseller_move(actor=tree["operator"], reseller=tree["south"], new_parent=tree["north"])
    assert client.get(balance_url(south_account.number), headers=auth).status_code == 200


def test_last_use_is_recorded(client, north_key, account):
    key, token = north_key
    assert key.last_used_at is None
    client.get(balance_url(account.number), headers={"Authorization": f"Bearer {token}"})
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_from == "127.0.0.1"


# --- the API keys page ------------------------------------------------------------------------
def test_operators_create_a_key_and_see_its_token_once(operator_client, tree):
    response = operator_client.post(
        CREATE,
        {
            "name": "USSD gateway",
            "reseller": tree["north"].pk,
            "networks": "192.0.2.10\n10.0.0.0/8",
        },
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    token = response.context["token"]
    key = ApiKey.objects.get()
    assert token.startswith(f"tk_{key.public_id}_") and token in response.content.decode()
    assert key.allowed_networks == ["192.0.2.10/32", "10.0.0.0/8"]
    listing = operator_client.get(LIST).content.decode()
    assert key.public_id in listing and token not in listing


def test_the_form_shows_errors_by_the_field_and_creates_nothing(operator_client, tree):
    response = operator_client.post(
        CREATE, {"name": "", "reseller": tree["north"].pk, "networks": "300.1.1.1"}
    )
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert "not an address" in str(response.context["form"].errors["networks"])
    assert not ApiKey.objects.exists()


def test_operators_revoke_a_key_after_confirming(operator_client, north_key):
    key, _ = north_key
    url = reverse("api:key-revoke", args=[key.pk])
    assert "Yes, revoke it" in operator_client.get(url).content.decode()
    key.refresh_from_db()
    assert key.is_active
    response = operator_client.post(url)
    assert response.status_code == 302
    key.refresh_from_db()
    assert not key.is_active and key.revoked_by.username == "op"


def test_reseller_users_cannot_see_or_revoke_keys(client, north_key, tree):
    key, _ = north_key
    client.force_login(tree["north_user"])
    assert client.get(LIST).status_code == 403
    assert client.get(CREATE).status_code == 403
    assert client.post(reverse("api:key-revoke", args=[key.pk])).status_code == 403


def test_a_key_outside_the_users_subtree_is_a_404(client, tree, role_groups):
    from tests.factories import operator

    south_key, _ = services.api_key_create(
        user=tree["operator"], name="S", reseller=tree["south"], networks=["10.0.0.0/8"]
    )
    client.force_login(operator(tree["north"]))
    assert client.post(reverse("api:key-revoke", args=[south_key.pk])).status_code == 404
    assert "S" not in [k.name for k in client.get(LIST).context["object_list"]]
    south_key.refresh_from_db()
    assert south_key.is_active


def test_the_management_command(tree, capsys):
    call_command(
        "api_keys", "--user", "op", "create", "--name", "Switch", "--reseller", "North",
        "--network", "10.0.0.0/8", "--network", "192.0.2.1",
    )  # fmt: skip
    out = capsys.readouterr().out
    key = ApiKey.objects.get()
    token = out.strip().splitlines()[-1]
    assert api_key_tokens.parse(token)[0] == key.public_id
    assert key.allowed_networks == ["10.0.0.0/8", "192.0.2.1/32"]
    call_command("api_keys", "--user", "op", "list")
    assert key.public_id in capsys.readouterr().out and token not in out.splitlines()[0]
    call_command("api_keys", "--user", "op", "revoke", token)
    key.refresh_from_db()
    assert not key.is_active
    with pytest.raises(CommandError, match="may not"):
        call_command(
            "api_keys", "--user", "northuser", "create", "--name", "x", "--reseller", "North",
            "--network", "10.0.0.0/8",
        )  # fmt: skip
    with pytest.raises(CommandError, match="not an address"):
        call_command(
            "api_keys", "--user", "op", "create", "--name", "x", "--reseller", "North",
            "--network", "nope",
        )  # fmt: skip
