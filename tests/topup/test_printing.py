"""Cards on paper: PDF sheets (pdftotext reads them back) and the print shop's encrypted file."""

import csv
import io
import os
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from resellers.models import AuditEvent
from tests.factories import SeriesFactory, generate, make_card, operator
from topup import services
from topup.models import Card, PrintShop, SheetJob
from topup.pins import pin_service
from topup.services.printing import jobs, sheets

KEYS = Path(__file__).parent / "keys"
SHOP_FINGERPRINT = "0457602F95B610FD152B8B492B3EF396867F3476"
PRINT = reverse("topup:card-print")
LAYOUT = {"paper": "a4", "columns": "3", "rows": "8", "qr": "none"}
LAYOUT["instruction"] = services.DEFAULT_INSTRUCTION


def pins(cards) -> dict[str, str]:
    return {
        c.number: pin_service.decrypt(c.pin_encrypted, c.pin_key_version, c.number) for c in cards
    }


def pdf_text(pdf: bytes, tmp_path: Path, page: int | None = None) -> str:
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(
        ["pdftotext", "-layout", *pages, str(path), "-"], check=True, capture_output=True
    ).stdout.decode()


def pdf_pages(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True).stdout
    return int(next(line for line in info.decode().splitlines() if line.startswith("Pages:"))[6:])


def _numbers_in(text: str) -> set[str]:
    import re

    return set(re.findall(r"\b\d{3}-\d{8}\b", text))


def squeezed(text: str) -> str:
    """The text without white space: grouped PINs read as their digits."""
    return "".join(text.split())


@pytest.fixture
def batch(tree):
    """A 24-card series in north (made by the real service), and cards that must stay out."""
    series = generate(tree["operator"], tree["north"], quantity=24, code="301")
    others = [
        generate(tree["operator"], tree["north"], quantity=3, code="302"),
        generate(tree["operator"], tree["south"], quantity=3, code="401"),
    ]
    return {
        "cards": pins(Card.objects.filter(series=series)),
        "others": pins(Card.objects.filter(series__in=others)),
    }


def print_sheet(client, query: dict, **layout):
    return client.post(f"{PRINT}?{_query(query)}", {**LAYOUT, **layout})


def _query(params: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(params, doseq=True)


# --- Sheets --------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_24_card_sheet_holds_every_serial_and_pin_of_its_cards_and_nothing_else(
    operator_client, batch, tmp_path
):
    page = operator_client.get(f"{PRINT}?series=301&apply_to=search")
    assert page.status_code == 200 and "24 cards matching" in page.content.decode()
    response = print_sheet(operator_client, {"series": "301", "apply_to": "search"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].endswith('.pdf"')
    assert "no-store" in response["Cache-Control"]
    pdf = response.content
    assert pdf_pages(pdf, tmp_path) == 1  # 3 x 8 cards on one A4 page
    text = pdf_text(pdf, tmp_path)
    flat = squeezed(text)
    for number, pin in batch["cards"].items():
        assert number in text and pin in flat
    # Each PIN is printed in groups of four for reading.
    first = next(iter(batch["cards"].values()))
    assert f"{first[:4]} {first[4:8]} {first[8:]}" in text
    for number, pin in batch["others"].items():
        assert number not in text and pin not in flat
    assert "$10.00" in text and "North" in text and services.DEFAULT_INSTRUCTION in text
    event = AuditEvent.objects.get(action=AuditEvent.Action.CARDS_PRINTED)
    assert event.actor.username == "op" and event.details["count"] == 24
    assert event.details["pages"] == 1 and event.details["layout"]["paper"] == "a4"
    assert not any(pin in str(event.details) for pin in batch["cards"].values())


def qr_codes(pdf: bytes, tmp_path: Path) -> list[str]:
    """What a phone reads from the QR codes on every page (rendered at 150 dpi)."""
    import zxingcpp
    from PIL import Image

    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "150", str(path), str(tmp_path / "p")], check=True)
    return [
        code.text
        for page in sorted(tmp_path.glob("p-*.png"))
        for code in zxingcpp.read_barcodes(Image.open(page))
    ]


@pytest.mark.django_db
def test_qr_codes_carry_the_pin_or_a_link_with_the_pin_in_its_fragment(
    operator_client, batch, tmp_path, settings
):
    response = print_sheet(operator_client, {"series": "301", "apply_to": "search"}, qr="link")
    link = "http://testserver/payment-gateways/#pin="
    assert sorted(qr_codes(response.content, tmp_path)) == sorted(
        link + pin for pin in batch["cards"].values()
    )
    settings.TOPUP_PAYMENT_URL = "https://pay.example.com/top-up/"
    (tmp_path / "pins").mkdir()
    response = print_sheet(operator_client, {"series": "302", "apply_to": "search"}, qr="link")
    codes = qr_codes(response.content, tmp_path / "pins")
    assert sorted(codes) == sorted(
        f"https://pay.example.com/top-up/#pin={pin}"
        for number, pin in batch["others"].items()
        if number.startswith("302-")
    )


@pytest.mark.django_db
def test_the_thermal_layout_prints_one_card_per_page(operator_client, tree, tmp_path):
    series = SeriesFactory(code="77", reseller=tree["north"], amount=Decimal("5.00"))
    made = dict(make_card(series=series, number=f"77-{n:08d}") for n in range(1, 4))
    response = print_sheet(
        operator_client, {"series": "77", "apply_to": "search"}, paper="thermal", qr="pin"
    )
    assert response.status_code == 200
    pdf = response.content
    assert pdf_pages(pdf, tmp_path) == 3
    assert sorted(qr_codes(pdf, tmp_path)) == sorted(made.values())  # the PIN alone
    for page, (card, pin) in enumerate(sorted(made.items(), key=lambda i: i[0].number), 1):
        text = pdf_text(pdf, tmp_path, page=page)
        assert card.number in text and pin in squeezed(text)
        assert [n for n in ("77-00000001", "77-00000002", "77-00000003") if n in text] == [
            card.number
        ]


@pytest.mark.django_db
def test_a_reseller_users_sheet_holds_only_cards_in_its_scope(client, batch, tree, tmp_path):
    user = tree["south_user"]
    user.user_permissions.add(Permission.objects.get(codename="reveal_pin"))
    client.force_login(user)
    north_ids = list(Card.objects.filter(series__code="301").values_list("pk", flat=True)[:2])
    south_ids = list(Card.objects.filter(series__code="401").values_list("pk", flat=True))
    south = {n: p for n, p in batch["others"].items() if n.startswith("401-")}
    foreign = {n: p for n, p in {**batch["cards"], **batch["others"]}.items() if n not in south}
    # The whole search, then ticked cards of its own.
    for query in ({"apply_to": "search"}, {"apply_to": "selected", "card": south_ids}):
        response = print_sheet(client, query, qr="link")
        assert response.status_code == 200
        text = pdf_text(response.content, tmp_path)
        assert all(number in text for number in south)
        assert not any(number in text or pin in squeezed(text) for number, pin in foreign.items())
    # Ticking another reseller's cards prints nothing at all.
    response = print_sheet(client, {"apply_to": "selected", "card": north_ids + south_ids})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_PRINTED).count() == 2
    # The service narrows whatever it is handed to the user's scope itself.
    result = services.cards_print(
        user=user, cards=Card.objects.all(), selection={}, layout=services.SheetLayout()
    )
    assert result.count == 3
    assert all(n.startswith("401-") for n in _numbers_in(pdf_text(result.pdf, tmp_path)))


@pytest.mark.django_db
def test_printing_needs_the_export_right_and_a_csrf_post(client, reseller_client, batch, tree):
    query = f"{PRINT}?series=301&apply_to=search"
    assert reseller_client.get(query).status_code == 403
    assert reseller_client.post(query, LAYOUT).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(tree["operator"])
    assert strict.post(query, LAYOUT).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_PRINTED).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("layout", "field", "message"),
    [
        ({"columns": "4", "qr": "pin"}, "columns", "at most 3 columns with a QR code"),
        ({"rows": "10"}, "rows", "at most 9 rows"),
        ({"paper": "letter", "rows": "9"}, "rows", "at most 8 rows"),
        ({"rows": "13"}, "rows", "less than or equal to 12"),
        ({"paper": "a3"}, "paper", "Select a valid choice"),
        ({"instruction": "   "}, "instruction", "required"),
    ],
)
def test_a_layout_that_would_not_print_legibly_is_refused_by_its_field(
    operator_client, batch, layout, field, message
):
    response = print_sheet(operator_client, {"series": "301", "apply_to": "search"}, **layout)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_PRINTED).exists()


@pytest.mark.django_db
def test_a_large_sheet_is_rendered_by_the_worker_with_progress_and_downloaded_once(
    operator_client,
    batch,
    tree,
    settings,
    monkeypatch,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    settings.PRINT_SHEET_BACKGROUND_THRESHOLD = 10
    monkeypatch.setattr(sheets, "CHUNK_PAGES", 4)
    reports = []
    real_render = jobs.render_sheet

    def spy(rows, layout, *, progress=None):
        def report(done):
            reports.append(done)
            progress(done)

        return real_render(rows, layout, progress=report)

    monkeypatch.setattr(jobs, "render_sheet", spy)
    query = {"series": "301", "apply_to": "search"}
    with django_capture_on_commit_callbacks(execute=True):
        response = print_sheet(operator_client, query, paper="thermal")
    job = SheetJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/sheets/{job.pk}/"
    assert reports == [4, 8, 12, 16, 20, 24]  # one card per slip, four slips per step
    assert job.state == SheetJob.State.DONE and job.progress == 24 and job.pages == 24
    # What waits in the database is sealed: no PDF, no PIN.
    sealed = bytes(job.result)
    assert not sealed.startswith(b"%PDF")
    assert not any(pin.encode() in sealed for pin in batch["cards"].values())
    page = operator_client.get(reverse("topup:sheet-detail", args=[job.pk])).content.decode()
    assert "Ready to download" in page and "Download the PDF" in page
    # Another operator cannot see or fetch it.
    other = Client()
    other.force_login(operator(tree["root"], username="op2"))
    download = reverse("topup:sheet-download", args=[job.pk])
    assert other.get(reverse("topup:sheet-detail", args=[job.pk])).status_code == 404
    assert other.post(download).status_code == 404
    # Its owner downloads it once, streamed; then it is gone from the server.
    response = operator_client.post(download)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = b"".join(response.streaming_content)
    assert pdf_pages(pdf, tmp_path) == 24
    text = squeezed(pdf_text(pdf, tmp_path))
    assert all(number in text and pin in text for number, pin in batch["cards"].items())
    job.refresh_from_db()
    assert job.state == SheetJob.State.GONE and job.result is None
    again = operator_client.post(download, follow=True)
    assert "already downloaded or expired" in again.content.decode()
    actions = list(AuditEvent.objects.values_list("action", flat=True).order_by("pk"))
    assert actions[-2:] == [AuditEvent.Action.CARDS_PRINTED, AuditEvent.Action.SHEET_DOWNLOADED]


@pytest.mark.django_db
def test_an_expired_sheet_is_wiped_before_anyone_downloads_it(operator_client, tree):
    job = SheetJob.objects.create(
        created_by=tree["operator"], total=1, state=SheetJob.State.DONE, result=b"x",
        result_key_version=2, expires_at="2000-01-01T00:00Z",
    )  # fmt: skip
    response = operator_client.post(reverse("topup:sheet-download", args=[job.pk]), follow=True)
    assert "already downloaded or expired" in response.content.decode()
    job.refresh_from_db()
    assert job.state == SheetJob.State.GONE and job.result is None
    assert services.sheet_purge(job_id=job.pk) == 0


def test_pins_are_grouped_for_reading():
    assert sheets.group_pin("123456789012") == ["1234", "5678", "9012"]
    assert sheets.group_pin("12345678") == ["1234", "5678"]
    assert sheets.group_pin("123456789") == ["123", "456", "789"]
    assert sheets.group_pin("1234567890") == ["12345", "67890"]
    for length in range(8, 21):
        pin = "0123456789" * 2
        groups = sheets.group_pin(pin[:length])
        assert "".join(groups) == pin[:length]
        assert max(map(len, groups)) - min(map(len, groups)) <= 3


# --- Print shops ---------------------------------------------------------------------------
SHOPS = reverse("topup:printshop-list")


@pytest.fixture
def shop(tree):
    return services.print_shop_add(
        user=tree["operator"],
        name="Paper & Ink",
        public_key=(KEYS / "printshop-test.pub.asc").read_text(),
    )


@pytest.mark.django_db
def test_operators_register_a_print_shop_and_see_its_fingerprint(operator_client, tree):
    key = (KEYS / "printshop-test.pub.asc").read_text()
    response = operator_client.post(SHOPS, {"name": "Paper & Ink", "public_key": key}, follow=True)
    shop = PrintShop.objects.get()
    assert shop.fingerprint == SHOP_FINGERPRINT
    assert "printshop@example.invalid" in shop.key_uid
    page = response.content.decode()
    assert "0457 602F 95B6 10FD 152B 8B49 2B3E F396 867F 3476" in page
    event = AuditEvent.objects.get(action=AuditEvent.Action.PRINT_SHOP_ADDED)
    assert event.details["fingerprint"] == SHOP_FINGERPRINT
    # The same key as a file, for a second shop: refused, it is registered already.
    with open(KEYS / "printshop-test.pub.asc", "rb") as upload:
        response = operator_client.post(SHOPS, {"name": "Other", "key_file": upload})
    assert "registered already" in " ".join(response.context["form"].errors["public_key"])
    operator_client.post(reverse("topup:printshop-delete", args=[shop.pk]))
    assert not PrintShop.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PRINT_SHOP_DELETED).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("printshop-test.sec.asc", "This is a private key"),
        ("sign-only.pub.asc", "cannot encrypt"),
        ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnonsense\n", "exactly one"),
        ("", "Paste the shop's public key"),
    ],
)
def test_a_key_that_cannot_serve_a_print_shop_is_refused(operator_client, key, message):
    if key.endswith(".asc"):
        key = (KEYS / key).read_text()
    response = operator_client.post(SHOPS, {"name": "Shop", "public_key": key})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["public_key"])
    assert not PrintShop.objects.exists()


@pytest.mark.django_db
def test_only_operators_manage_print_shops(reseller_client, shop):
    assert reseller_client.get(SHOPS).status_code == 403
    assert reseller_client.post(SHOPS, {"name": "X", "public_key": "x"}).status_code == 403
    delete = reverse("topup:printshop-delete", args=[shop.pk])
    assert reseller_client.post(delete).status_code == 403
    assert PrintShop.objects.count() == 1


# --- The encrypted export ------------------------------------------------------------------
@pytest.fixture
def shop_home():
    """A GnuPG home holding the test print shop's secret key, as the shop would have it."""
    home = tempfile.mkdtemp(prefix="gpgshop", dir="/tmp")  # short: the agent's socket lives here
    env = {**os.environ, "GNUPGHOME": home}
    subprocess.run(
        ["gpg", "--batch", "--import", str(KEYS / "printshop-test.sec.asc")],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    yield env
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)
    shutil.rmtree(home, ignore_errors=True)


def all_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.mark.django_db
def test_the_encrypted_export_decrypts_to_exactly_the_plaintext_csv(
    operator_client, batch, shop, shop_home, tmp_path, monkeypatch
):
    search = {"series": "301", "apply_to": "search"}
    plain = operator_client.post(f"{reverse('topup:card-export')}?{_query(search)}")
    plaintext = b"".join(plain.streaming_content)
    # Every temporary file of the export goes to a directory of our own, watched below.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    url = f"{reverse('topup:card-export-encrypted')}?{_query(search)}"
    assert "Paper &amp; Ink" in operator_client.get(url).content.decode()
    response = operator_client.post(url, {"shop": shop.pk})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pgp-encrypted"
    assert response["Content-Disposition"].endswith('.csv.gpg"')
    chunks = iter(response.streaming_content)
    encrypted = next(chunks)
    # While gpg runs, its home holds the shop's public key and nothing with a PIN.
    during = all_files(scratch)
    assert during and all(p.relative_to(scratch).parts[0].startswith("topup-gpg-") for p in during)
    for path in during:
        assert not any(pin.encode() in path.read_bytes() for pin in batch["cards"].values())
    encrypted += b"".join(chunks)
    assert all_files(scratch) == [] and list(scratch.iterdir()) == []
    assert not any(pin.encode() in encrypted for pin in batch["cards"].values())
    decrypted = subprocess.run(
        ["gpg", "--batch", "--quiet", "--decrypt"],
        input=encrypted, env=shop_home, check=True, capture_output=True,
    ).stdout  # fmt: skip
    assert decrypted == plaintext
    rows = list(csv.DictReader(io.StringIO(decrypted.decode())))
    assert {row["serial"]: row["pin"] for row in rows} == batch["cards"]
    event = AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_EXPORTED).latest("pk")
    assert event.details["count"] == 24
    assert event.details["encrypted_for"] == {
        "shop": shop.pk, "name": "Paper & Ink", "fingerprint": SHOP_FINGERPRINT,
    }  # fmt: skip


@pytest.mark.django_db
def test_a_tampered_shop_key_stops_the_export_before_any_pin_leaves(operator_client, batch, shop):
    other = (KEYS / "sign-only.pub.asc").read_text()
    PrintShop.objects.filter(pk=shop.pk).update(public_key=other)
    url = f"{reverse('topup:card-export-encrypted')}?series=301&apply_to=search"
    response = operator_client.post(url, {"shop": shop.pk})
    assert response.status_code == 200
    assert "cannot encrypt" in " ".join(response.context["form"].errors["shop"])
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_EXPORTED).exists()


@pytest.mark.django_db
def test_plaintext_exports_can_be_switched_off(operator_client, batch, shop, settings):
    settings.EXPORT_PLAINTEXT_ALLOWED = False
    page = operator_client.get(reverse("topup:card-list")).content.decode()
    assert "Export CSV with PINs" not in page and "Export for print shop" in page
    export = f"{reverse('topup:card-export')}?apply_to=search"
    assert "Plaintext exports are switched off" in operator_client.get(export).content.decode()
    response = operator_client.post(export)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "switched off" in " ".join(response.context["form"].non_field_errors())
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_EXPORTED).exists()
    url = f"{reverse('topup:card-export-encrypted')}?apply_to=search"
    response = operator_client.post(url, {"shop": shop.pk})
    assert response.status_code == 200 and b"".join(response.streaming_content)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_EXPORTED).count() == 1


@pytest.mark.django_db
def test_a_sheet_whose_worker_died_fails_with_a_message(operator_client, tree, settings):
    from datetime import timedelta

    from django.utils import timezone

    long_ago = timezone.now() - timedelta(seconds=settings.TOPUP_JOB_STALE_SECONDS + 60)
    dead = SheetJob.objects.create(
        created_by=tree["operator"], total=900, progress=300, state=SheetJob.State.RUNNING,
        heartbeat_at=long_ago,
    )  # fmt: skip
    alive = SheetJob.objects.create(
        created_by=tree["operator"], total=900, state=SheetJob.State.RUNNING,
        heartbeat_at=timezone.now(),
    )  # fmt: skip
    counts = services.jobs_reap()
    assert counts["sheets_failed"] == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.state == SheetJob.State.FAILED and alive.state == SheetJob.State.RUNNING
    page = operator_client.get(reverse("topup:sheet-detail", args=[dead.pk])).content.decode()
    assert "The worker stopped while rendering this sheet" in page


@pytest.mark.django_db
def test_four_eyes_stops_the_generator_printing_its_own_series(
    operator_client, batch, tree, settings, shop
):
    settings.TOPUP_FOUR_EYES = True
    query = {"series": "301", "apply_to": "search"}
    page = operator_client.get(f"{PRINT}?{_query(query)}").content.decode()
    assert "Four eyes: you generated series 301" in page
    response = print_sheet(operator_client, query)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "another person must print the PINs of it" in response.content.decode()
    url = f"{reverse('topup:card-export-encrypted')}?{_query(query)}"
    response = operator_client.post(url, {"shop": shop.pk})
    assert "another person must export the PINs of it" in response.content.decode()
    assert not AuditEvent.objects.filter(
        action__in=[AuditEvent.Action.CARDS_PRINTED, AuditEvent.Action.CARDS_EXPORTED]
    ).exists()
    # Another operator prints them; each card's history says so.
    other = Client()
    other.force_login(operator(tree["root"], username="op2"))
    assert print_sheet(other, query)["Content-Type"] == "application/pdf"
    card = Card.objects.filter(series__code="301").first()
    history = other.get(reverse("topup:card-detail", args=[card.pk])).content.decode()
    assert "Printed with PIN" in history and "A4 sheet of 24 cards" in history
