"""What moves a wallet: top-ups, adjustments, and every card change, in its transaction."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.models import Sum
from django.urls import reverse

from tests.factories import AccountFactory, generate
from tests.topup.test_release import pins_of
from tests.wallets.conftest import bill
from topup import services
from topup.models import BulkJob, Card
from topup.selectors import cards_for_selection
from topup.services.jobs import bulk_job_run
from wallets.models import Wallet, WalletEntry
from wallets.services import WalletShort, wallet_adjust, wallet_configure, wallet_topup

D = Decimal


def wallet(tree, name="north") -> Wallet:
    return Wallet.objects.get(reseller=tree[name])


def assert_ledger_whole(w: Wallet) -> None:
    w.refresh_from_db()
    assert w.balance == (w.entries.aggregate(s=Sum("amount"))["s"] or 0)


def release(tree, code, to="north", background=False, **search):
    selection = {"search": f"series={code}" if not search else "&".join(
        f"{k}={v}" for k, v in search.items())}  # fmt: skip
    operator = tree["operator"]
    return services.cards_release(
        user=operator, cards=cards_for_selection(operator, selection), selection=selection,
        reseller=tree[to] if to else None, background=background,
    )  # fmt: skip


@pytest.mark.django_db
def test_topup_and_adjustment_move_the_balance_with_a_note(tree):
    w = bill(tree, credit_limit=D("50"))
    entry = wallet_topup(wallet=w, amount=D("100"), note="Wire 17", by=tree["operator"])
    assert (entry.kind, entry.amount, entry.balance_after, entry.note) == (
        "topup", D("100"), D("100"), "Wire 17",
    )  # fmt: skip
    wallet_adjust(wallet=w, amount=D("-140"), note="Returned goods", by=tree["operator"])
    assert wallet(tree).balance == D("-40")
    with pytest.raises(WalletShort) as short:
        wallet_adjust(wallet=w, amount=D("-20.5"), note="Too much", by=tree["operator"])
    assert "$10.50 is missing" in str(short.value)
    assert wallet(tree).balance == D("-40") and wallet(tree).entries.count() == 2
    assert_ledger_whole(wallet(tree))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "note"), [(D("0"), "x"), (D("-1"), "x"), (D("1.001"), "x"), (D("5"), "  ")]
)
def test_a_bad_topup_is_refused_and_changes_nothing(tree, amount, note):
    w = bill(tree)
    with pytest.raises(ValidationError):
        wallet_topup(wallet=w, amount=amount, note=note, by=tree["operator"])
    assert wallet(tree).entries.count() == 0


@pytest.mark.django_db
def test_only_a_company_above_manages_a_wallet(tree):
    w = bill(tree)
    with pytest.raises(PermissionDenied):  # one's own wallet
        wallet_topup(wallet=w, amount=D("5"), note="me", by=tree["north_user"])
    with pytest.raises(PermissionDenied):  # out of scope
        wallet_configure(actor=tree["south_user"], reseller=tree["north"], billing_mode="prepaid",
                         discount=D("0"), credit_limit=D("0"))  # fmt: skip
    with pytest.raises(PermissionDenied):  # the operator's company has no wallet
        wallet_configure(actor=tree["operator"], reseller=tree["root"], billing_mode="prepaid",
                         discount=D("0"), credit_limit=D("0"))  # fmt: skip
    # North's user manages its child's wallet.
    bill(tree, "north", discount=D("20"))
    retail = wallet_configure(
        actor=tree["north_user"],
        reseller=tree["north_retail"],
        billing_mode="prepaid",
        discount=D("5"),
        credit_limit=D("10"),
    )
    assert retail.credit_limit == D("10")


@pytest.mark.django_db
def test_entries_are_append_only_in_the_database(tree):
    w = bill(tree)
    entry = wallet_topup(wallet=w, amount=D("1"), note="n", by=tree["operator"])
    for sql in ("UPDATE wallets_walletentry SET amount = 2", "DELETE FROM wallets_walletentry"):
        with (
            pytest.raises(InternalError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    with pytest.raises(IntegrityError), transaction.atomic():
        WalletEntry.objects.create(wallet=w, amount=D("1"), balance_after=D("2"), kind="topup",
                                   reference=entry.reference)  # fmt: skip
    assert WalletEntry.objects.get().amount == D("1")


@pytest.mark.django_db
def test_release_to_a_prepaid_reseller_debits_its_price(tree, stock):
    w = bill(tree, credit_limit=D("200"))
    result = release(tree, "300")
    assert (result.changed, result.skipped) == (20, 0)
    entry = wallet(tree).entries.get()
    assert (entry.kind, entry.amount, entry.cards) == ("release", D("-180.00"), 20)
    assert wallet(tree).balance == D("-180.00") == w.balance - 180
    assert_ledger_whole(wallet(tree))


@pytest.mark.django_db
def test_a_release_beyond_balance_and_limit_is_refused_naming_the_missing_amount(
    tree, stock, settings
):
    settings.TOPUP_BULK_CHUNK_SIZE = 3
    w = bill(tree, credit_limit=D("50"))
    wallet_topup(wallet=w, amount=D("100"), note="first payment", by=tree["operator"])
    with pytest.raises(ValidationError) as refused:
        release(tree, "300")  # 20 x 9.00 = 180.00 > 150.00
    assert "$30.00 is missing" in " ".join(refused.value.messages)
    assert Card.objects.filter(status="in_stock").count() == 20
    assert wallet(tree).balance == D("100") and wallet(tree).entries.count() == 1


@pytest.mark.django_db
def test_consignment_and_unbilled_resellers_pay_nothing_on_release(tree, stock):
    bill(tree, billing_mode="consignment")
    release(tree, "300")
    release(tree, "300", to="south")  # no wallet: nothing changes hands (and EUR cards: none)
    assert WalletEntry.objects.count() == 0


@pytest.mark.django_db
def test_void_and_delete_of_released_cards_credit_back_and_in_stock_ones_nothing(
    tree, stock, settings
):
    settings.TOPUP_BULK_CHUNK_SIZE = 7
    bill(tree, credit_limit=D("1000"))
    release(tree, "300", serials_min="300-00000001", serials_max="300-00000010")
    assert wallet(tree).balance == D("-90.00")
    operator = tree["operator"]
    voided = {"search": "series=300&serials_min=300-00000001&serials_max=300-00000014"}
    result = services.cards_void(user=operator, cards=cards_for_selection(operator, voided),
                                 selection=voided)  # fmt: skip
    assert result.changed == 14  # 10 released (credited) and 4 in stock (nothing)
    assert wallet(tree).balance == D("0.00")
    kinds = list(wallet(tree).entries.order_by("pk").values_list("kind", "cards"))
    assert kinds == [("release", 7), ("release", 3), ("void", 7), ("void", 3)]
    release(tree, "300", serials_min="300-00000015", serials_max="300-00000020")
    gone = {"search": "series=300"}
    result = services.cards_delete(user=operator, cards=cards_for_selection(operator, gone),
                                   selection=gone)  # fmt: skip
    assert result.changed == 20 and wallet(tree).balance == D("0.00")  # void ones: no credit
    assert_ledger_whole(wallet(tree))


@pytest.mark.django_db
def test_a_move_credits_the_old_owner_and_debits_the_new_one(tree, stock):
    bill(tree, "north", discount=D("10"), credit_limit=D("500"))
    bill(tree, "north_retail", discount=D("5"), credit_limit=D("500"))
    release(tree, "300")
    operator = tree["operator"]
    selection = {"search": "series=300&serials_min=300-00000001&serials_max=300-00000004"}
    services.cards_mass_update(
        user=operator, cards=cards_for_selection(operator, selection), selection=selection,
        edit=services.MassEdit(reseller_mode="set", reseller=tree["north_retail"]),
    )  # fmt: skip
    assert wallet(tree, "north").balance == D("-180.00") + D("36.00")
    assert wallet(tree, "north_retail").balance == D("-38.00")
    assert set(WalletEntry.objects.values_list("kind", flat=True)) == {
        "release", "move_out", "move_in",
    }  # fmt: skip


@pytest.mark.django_db
def test_switching_billing_reprices_the_stock_held(tree, stock):
    bill(tree, billing_mode="consignment", credit_limit=D("1000"))
    release(tree, "300")
    assert WalletEntry.objects.count() == 0
    bill(tree, billing_mode="prepaid", discount=D("10"), credit_limit=D("1000"))
    assert wallet(tree).balance == D("-180.00")  # it now pays for the 20 cards it holds
    bill(tree, billing_mode="prepaid", discount=D("20"), credit_limit=D("1000"))
    assert wallet(tree).balance == D("-160.00")
    operator = tree["operator"]
    selection = {"search": "series=300"}
    services.cards_void(user=operator, cards=cards_for_selection(operator, selection),
                        selection=selection)  # fmt: skip
    assert wallet(tree).balance == D("0.00")  # a credit back is exactly what was charged
    assert_ledger_whole(wallet(tree))


@pytest.mark.django_db
def test_consignment_pays_when_its_card_is_redeemed_once(tree, settings):
    bill(tree, billing_mode="consignment", discount=D("12.5"))
    series = generate(tree["operator"], tree["north"], quantity=2, code="400", amount=D("7"))
    account = AccountFactory(reseller=tree["north"])
    pin = next(iter(pins_of(series.cards.all()).values()))
    first = services.card_redeem(account=account, typed_pin=pin, client_address="10.0.0.1")
    again = services.card_redeem(account=account, typed_pin=pin, client_address="10.0.0.1")
    assert (first.outcome, again.outcome) == ("success", "already")
    entry = wallet(tree).entries.get()
    assert (entry.kind, entry.amount, entry.cards) == ("redemption", D("-6.13"), 1)
    assert entry.note == first.card_number
    assert_ledger_whole(wallet(tree))


@pytest.mark.django_db(transaction=True)
def test_a_background_release_stops_at_the_limit_saying_how_many_went(
    tree, stock, settings, role_groups
):
    settings.TOPUP_BULK_CHUNK_SIZE = 4
    w = bill(tree, credit_limit=D("0"))
    wallet_topup(wallet=w, amount=D("200"), note="paid", by=tree["operator"])
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    job = release(tree, "300", background=True).job
    # Meanwhile the reseller's money goes elsewhere: 100 left, enough for 11 cards.
    wallet_adjust(wallet=w, amount=D("-100"), note="refund", by=tree["operator"])
    job = bulk_job_run(job_id=job.pk)
    assert job.state == BulkJob.State.FAILED
    assert job.changed == 8  # two chunks of 4 (72.00); the third (36.00) would pass the limit
    assert "Cards changed before it stopped: 8" in job.error and "missing" in job.error
    assert Card.objects.filter(status="new").count() == 8
    assert wallet(tree).balance == D("28.00")
    assert_ledger_whole(wallet(tree))


@pytest.mark.django_db
def test_the_release_page_shows_the_refusal_with_the_missing_amount(client, tree, stock):
    w = bill(tree, credit_limit=D("50"))
    wallet_topup(wallet=w, amount=D("20"), note="first", by=tree["operator"])
    client.force_login(tree["operator"])
    url = reverse("topup:card-release") + "?apply_to=search&series=300"
    response = client.post(url, {"reseller": tree["north"].pk})
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert any("$110.00 is missing" in error for error in errors)  # 180 - (20 + 50)
    assert "$110.00 is missing" in response.content.decode()
    assert Card.objects.filter(status="in_stock").count() == 20
    assert wallet(tree).entries.count() == 1


@pytest.mark.django_db(transaction=True)  # the check sets its own isolation level
def test_the_integrity_check_finds_a_wallet_off_its_ledger(tree):
    w = bill(tree)
    wallet_topup(wallet=w, amount=D("30"), note="n", by=tree["operator"])
    assert [d for d in services.integrity_differences() if d.check == "wallet"] == []
    Wallet.objects.filter(pk=w.pk).update(balance=D("31"))
    found = [d.detail for d in services.integrity_differences() if d.check == "wallet"]
    assert found == ["wallet of North: balance 31.0000, entries sum to 30.0000"]
