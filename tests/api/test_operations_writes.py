"""The operations API's writes: a key with a right calls the panel's own services as its user,
within its subtree, once per Idempotency-Key; errors carry stable codes."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client

from api import services
from api.models import ApiJob, IdempotencyRecord
from resellers.models import AuditEvent
from tests.factories import UserFactory, generate, operator
from tests.topup.test_printing import KEYS
from topup import services as topup_services
from topup.models import BulkJob, Card, Series


def key(tree, *rights, reseller="north", user="operator"):
    return services.api_key_create(
        user=tree[user] if isinstance(user, str) else user,
        name="warehouse",
        reseller=tree[reseller],
        networks=["127.0.0.0/8"],
        rights=list(rights),
    )[1]


def post(token, path, body, idempotency_key="op-1", **headers):
    return Client().post(
        f"/api/v1{path}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key, **headers},
    )


@pytest.fixture
def stock(tree):
    """Series 301 of North (10 cards in stock) and 401 of South (4), by a second operator."""
    maker = operator(tree["root"], username="maker")
    north = generate(maker, tree["north"], quantity=10, code="301", in_stock=True)
    south = generate(maker, tree["south"], quantity=4, code="401", in_stock=True, currency="EUR")
    return north, south


def statuses(series) -> list[str]:
    return list(
        Card.objects.filter(series=series).order_by("number").values_list("status", flat=True)
    )


@pytest.mark.django_db
def test_release_a_range_to_a_reseller_once_per_idempotency_key(tree, stock):
    north, _ = stock
    token = key(tree, "release")
    body = {"first": "301-00000001", "last": "301-00000004", "reseller": tree["north_retail"].pk}
    first = post(token, "/card-ranges/release", body)
    assert first.status_code == 200, first.content
    assert first.json() == {"status": "done", "changed": 4, "skipped": 0}
    assert statuses(north) == ["new"] * 4 + ["in_stock"] * 6
    moved = Card.objects.filter(series=north, status="new")
    assert set(moved.values_list("reseller", flat=True)) == {tree["north_retail"].pk}
    # The same request again: the first answer, replayed; nothing changes twice.
    again = post(token, "/card-ranges/release", body)
    assert again.status_code == 200 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_RELEASED).count() == 1
    # Another request under the same key: 409 with a stable code.
    other = post(token, "/card-ranges/release", {**body, "last": "301-00000009"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert statuses(north).count("new") == 4


@pytest.mark.django_db
def test_block_unblock_void_and_mass_edit_call_the_panel_s_services(tree, stock):
    north, _ = stock
    token = key(tree, "block", "void", "edit")
    rng = {"first": "301-00000001", "last": "301-00000003"}
    assert post(token, "/card-ranges/block", rng, "b").json()["changed"] == 3
    assert statuses(north)[:3] == ["blocked"] * 3
    assert post(token, "/card-ranges/unblock", rng, "u").json()["changed"] == 3
    assert statuses(north)[:3] == ["in_stock"] * 3
    assert post(token, "/card-ranges/void", rng, "v").json()["changed"] == 3
    assert statuses(north)[:4] == ["void"] * 3 + ["in_stock"]
    # Void is for good: the mass edit (the panel's rule) skips void cards.
    edit = {**rng, "last": "301-00000005", "expiry": "set", "expires_at": "2030-01-31T00:00:00Z"}
    answer = post(token, "/card-ranges/mass-edit", edit, "e").json()
    assert answer == {"status": "done", "changed": 2, "skipped": 3}
    expiries = Card.objects.filter(series=north, expires_at__year=2030)
    assert sorted(expiries.values_list("number", flat=True)) == ["301-00000004", "301-00000005"]
    nothing = post(token, "/card-ranges/mass-edit", rng, "n")
    assert nothing.status_code == 422 and nothing.json()["code"] == "invalid_parameters"
    assert "preserve" in nothing.json()["detail"]


@pytest.mark.django_db
def test_a_missing_right_is_403_and_another_subtree_is_404_or_untouched(tree, stock):
    north, south = stock
    rng = {"first": "301-00000001", "last": "301-00000010"}
    reader = key(tree, "read")
    refused = post(reader, "/card-ranges/release", rng)
    assert refused.status_code == 403
    assert refused.json()["code"] == "missing_right" and refused.json()["detail"]
    assert not IdempotencyRecord.objects.exists()
    # South's key: North's cards are not in its subtree, so nothing of them changes.
    south_key = key(tree, "release", "void", reseller="south")
    assert post(south_key, "/card-ranges/void", rng).json()["changed"] == 0
    assert statuses(north) == ["in_stock"] * 10
    # A reseller of another subtree as the receiver: 404.
    north_key = key(tree, "release")
    moved = post(north_key, "/card-ranges/release", {**rng, "reseller": tree["south"].pk})
    assert moved.status_code == 404 and moved.json()["code"] == "not_found"
    assert statuses(north) == ["in_stock"] * 10


@pytest.mark.django_db
def test_a_key_never_does_more_than_its_user(tree, stock):
    north, _ = stock
    # A user who manages keys but may not release cannot make a key that does.
    keeper = UserFactory(reseller=tree["root"], username="keeper")
    keeper.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_apikey", "manage_api_keys"])
    )
    with pytest.raises(ValidationError) as refused:
        key(tree, "release", user=keeper)
    assert "rights you do not hold" in str(refused.value)
    assert key(tree, user=keeper)  # a key without that right it may make
    # A key whose user lost the right can no longer use it.
    owner = operator(tree["root"], username="leaver")
    token = key(tree, "release", user=owner)
    owner.is_active = False
    owner.save()
    answer = post(token, "/card-ranges/release", {"first": "301-00000001", "last": "301-00000002"})
    assert answer.status_code == 403 and answer.json()["code"] == "owner_cannot_act"
    assert statuses(north) == ["in_stock"] * 10


@pytest.mark.django_db
def test_four_eyes_holds_for_a_key_as_for_its_user(tree, stock, settings):
    settings.TOPUP_FOUR_EYES = True
    north, _ = stock
    token = key(tree, "release", user=north.created_by)  # the user who generated 301
    answer = post(token, "/card-ranges/release", {"first": "301-00000001", "last": "301-00000002"})
    assert answer.status_code == 409 and answer.json()["code"] == "four_eyes"
    assert "301" in answer.json()["detail"]
    assert statuses(north) == ["in_stock"] * 10
    other = key(tree, "release")  # the operator did not generate it
    assert (
        post(
            other, "/card-ranges/release", {"first": "301-00000001", "last": "301-00000002"}, "x"
        ).json()["changed"]
        == 2
    )


@pytest.mark.django_db
def test_a_large_range_is_a_job_to_poll(tree, stock, settings, django_capture_on_commit_callbacks):
    settings.TOPUP_BULK_BACKGROUND_THRESHOLD = 3
    north, south = stock
    token = key(tree, "release", "read")
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(
            token, "/card-ranges/release", {"first": "301-00000001", "last": "301-00000008"}
        )
    assert answer.status_code == 202
    job = answer.json()["job"]
    assert job.startswith("bulk-") and BulkJob.objects.filter(pk=int(job[5:])).exists()
    polled = Client().get(f"/api/v1/jobs/{job}", headers={"Authorization": f"Bearer {token}"})
    assert polled.status_code == 200
    assert polled.json()["state"] == "done" and polled.json()["changed"] == 8
    assert statuses(north) == ["new"] * 8 + ["in_stock"] * 2
    # Another subtree's key does not see the job.
    south_key = key(tree, "read", reseller="south")
    hidden = Client().get(f"/api/v1/jobs/{job}", headers={"Authorization": f"Bearer {south_key}"})
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_create_a_series_in_the_background(tree):
    token = key(tree, "generate")
    body = {"code": "555", "amount": "5.00", "quantity": 20}
    answer = post(token, "/series", body)  # the worker (immediate in tests) runs on commit
    assert answer.status_code == 202, answer.content
    series = Series.objects.get(pk=answer.json()["series"])
    assert series.reseller == tree["north"] and series.cards.count() == 20
    assert ApiJob.objects.filter(kind="series", object_id=series.pk).exists()
    polled = Client().get(
        f"/api/v1/jobs/{answer.json()['job']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert polled.json()["state"] == "done" and polled.json()["progress"] == 20
    assert post(token, "/series", body).json() == answer.json()  # replayed
    assert Series.objects.filter(code="555").count() == 1


@pytest.mark.django_db
def test_liability_and_a_card_with_its_history(tree, stock):
    north, _ = stock
    token = key(tree, "read", "release")
    post(token, "/card-ranges/release", {"first": "301-00000001", "last": "301-00000002"})
    auth = {"Authorization": f"Bearer {token}"}
    figures = Client().get("/api/v1/liability", {"months": 2}, headers=auth).json()
    assert any(row["issued"] == "20.00" for row in figures["totals"])
    card = Client().get("/api/v1/cards/301-00000001", headers=auth).json()
    assert card["status"] == "new"
    assert any("elease" in entry["what"] for entry in card["history"])
    assert "pin" not in json.dumps(card).lower()


@pytest.mark.django_db
def test_errors_carry_a_code_and_a_translated_detail(tree):
    token = key(tree, "read")
    bad = Client().get(
        "/api/v1/series", {"limit": 500}, headers={"Authorization": f"Bearer {token}"}
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid" and bad.json()["detail"]
    nobody = Client().get("/api/v1/series")
    assert nobody.status_code == 401 and nobody.json()["code"] == "unauthorized"


@pytest.mark.django_db
def test_an_encrypted_export_to_a_print_shop_is_delivered_once(tree, stock):
    north, _ = stock
    shop = topup_services.print_shop_add(
        user=tree["operator"],
        name="Paper & Ink",
        public_key=(KEYS / "printshop-test.pub.asc").read_text(),
    )
    token = key(tree, "export")
    body = {"first": "301-00000001", "last": "301-00000006", "shop": shop.pk}
    answer = post(token, "/card-ranges/export", body)
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == "application/pgp-encrypted"
    encrypted = b"".join(answer.streaming_content)
    assert encrypted.startswith(b"\x85") or encrypted[:1] in (b"\x84", b"\xc1")  # OpenPGP packet
    event = AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_EXPORTED).latest("pk")
    assert event.details["count"] == 6 and event.details["encrypted_for"]["shop"] == shop.pk
    # A retry with the same key never sends the PINs again.
    again = post(token, "/card-ranges/export", body)
    assert again.status_code == 410 and again.json()["code"] == "export_not_repeated"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_EXPORTED).count() == 1
    unknown = post(token, "/card-ranges/export", {**body, "shop": shop.pk + 1}, "other")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
