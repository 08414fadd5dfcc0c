"""Background work survives lost connections (issue 24): a bulk job whose connections an
administrator terminates mid-way resumes after its last committed chunk and changes each
card once."""

import logging
import os
import time
from decimal import Decimal

import psycopg2
import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from config.db_faults import DatabaseAway
from resellers.models import AuditEvent
from tests.factories import SeriesFactory, generate
from tests.topup.test_pin_keys import (
    OLD_CIPHER,
    OLD_DIGEST,
    STRONG_CIPHER,
    STRONG_DIGEST,
    _old_cards,
)
from topup import generation, services
from topup.models import BulkJob, Card, CardEventRange, Series, SheetJob
from topup.pins import PinService
from topup.selectors import cards_for_selection
from topup.services.bulk import chunks
from topup.services.printing import jobs as sheet_jobs
from topup.services.printing import sheets

CARDS = 600


def _progress(params) -> int:
    """The job's count of cards walked, read on the terminator's own connection."""
    with psycopg2.connect(**params) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(progress), 0) FROM topup_bulkjob")
        value = cursor.fetchone()[0]
    conn.close()
    return value


@pytest.fixture
def slow_chunks(monkeypatch):
    """Each chunk takes a little longer, so the terminations land in the middle of the job."""
    real = chunks.ChunkStatement.next

    def walk(statement, cards, *, after):
        time.sleep(0.03)
        return real(statement, cards, after=after)

    monkeypatch.setattr(chunks.ChunkStatement, "next", walk)


@pytest.mark.django_db(transaction=True)
def test_a_bulk_job_whose_connections_are_terminated_finishes_each_card_once(
    tree, settings, terminator, slow_chunks, caplog
):
    settings.TOPUP_BULK_BACKGROUND_THRESHOLD = 10
    settings.TOPUP_BULK_CHUNK_SIZE = 25
    operator = tree["operator"]
    series = generate(operator, tree["north"], quantity=CARDS, code="777")
    some = list(Card.objects.filter(series=series).order_by("pk")[:40:4])  # 10 voided
    Card.objects.filter(pk__in=[c.pk for c in some]).update(status="void")
    connection.close()  # the terminator's first victims are fresh connections
    marks = iter([100, 250, 400])
    mark = [next(marks)]

    def when(t):
        if mark[0] is None or _progress(t.params) < mark[0]:
            return False
        mark[0] = next(marks, None)
        return True

    selection = {"search": "series=777"}
    caplog.set_level(logging.WARNING, logger="config.db_faults")
    with terminator(when) as cut:
        result = services.cards_mass_update(
            user=operator,
            cards=cards_for_selection(operator, selection),
            edit=services.MassEdit(status_mode="block"),
            selection=selection,
        )
    job = BulkJob.objects.get(pk=result.job.pk)
    assert len(cut.killed) == 3 and all(cut.killed), cut.killed  # each cut hit the app
    assert "trying again" in caplog.text
    assert (job.state, job.total, job.progress) == ("done", CARDS, CARDS)
    assert (job.changed, job.skipped) == (CARDS - 10, 10)
    assert job.changed + job.skipped == job.progress
    assert Card.objects.filter(series=series, status="blocked").count() == CARDS - 10
    # Each changed card was recorded by exactly one committed chunk: none changed twice.
    covered = [
        pk
        for first, last in CardEventRange.objects.filter(job=job).values_list("first_id", "last_id")
        for pk in range(first, last + 1)
    ]
    assert len(covered) == len(set(covered)) == CARDS - 10
    event = AuditEvent.objects.get(action="cards.mass_edited")
    assert (event.details["selected"], event.details["changed"]) == (CARDS, CARDS - 10)


@pytest.mark.django_db(transaction=True)
def test_a_job_the_database_stayed_away_from_is_resumable_from_its_page_and_by_the_reaper(
    client, tree, settings, monkeypatch
):
    settings.TOPUP_BULK_BACKGROUND_THRESHOLD = 10
    settings.TOPUP_BULK_CHUNK_SIZE = 25
    settings.DB_OUTAGE_RETRY_SECONDS = 0.3
    operator = tree["operator"]
    series = generate(operator, tree["north"], quantity=100, code="778")
    real = chunks.ChunkStatement.next

    def away(statement, cards, *, after):
        if after > 0:  # the first chunk commits; then the database "stays away"
            raise DatabaseAway("The database stayed unreachable for 0 seconds.")
        return real(statement, cards, after=after)

    monkeypatch.setattr(chunks.ChunkStatement, "next", away)
    selection = {"search": "series=778"}
    result = services.cards_mass_update(
        user=operator,
        cards=cards_for_selection(operator, selection),
        edit=services.MassEdit(status_mode="block"),
        selection=selection,
    )
    job = BulkJob.objects.get(pk=result.job.pk)
    assert (job.state, job.resumable, job.progress, job.changed) == ("failed", True, 25, 25)
    assert "It can be resumed where it stopped." in job.error
    monkeypatch.undo()
    url = reverse("topup:bulk-job-resume", args=[job.pk])
    # Out of scope or without the right: refused, nothing queued.
    client.force_login(tree["south_user"])
    assert client.post(url).status_code == 404
    client.force_login(operator)
    page = client.get(reverse("topup:bulk-job-detail", args=[job.pk])).content.decode()
    assert f'action="{url}"' in page and "Resume" in page
    response = client.post(url)
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.state, job.progress, job.changed, job.runs) == ("done", 100, 100, 2)
    assert Card.objects.filter(series=series, status="blocked").count() == 100
    assert AuditEvent.objects.filter(action="bulk_job.resumed", details__job=job.pk).count() == 1
    # A second press finds nothing to resume.
    assert client.post(url, follow=True).status_code == 200
    assert BulkJob.objects.get(pk=job.pk).runs == 2


def _read(params, sql) -> int:
    with psycopg2.connect(**params) as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        value = cursor.fetchone()[0]
    conn.close()
    return value or 0


def once(condition):
    """A terminator's trigger that fires the first time `condition(params)` holds."""
    fired = []

    def when(t):
        if fired or not condition(t.params):
            return False
        fired.append(True)
        return True

    return when


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_a_generation_whose_connections_are_terminated_finishes_whole(
    tree, settings, terminator, monkeypatch, caplog
):
    settings.TOPUP_BACKGROUND_THRESHOLD = 10
    monkeypatch.setattr(generation, "BATCH_SIZE", 50)
    real = services.generation._progress_reporter

    def slow(series):
        report = real(series)

        def wrapped(done):
            time.sleep(0.05)
            report(done)

        return wrapped

    monkeypatch.setattr(services.generation, "_progress_reporter", slow)
    caplog.set_level(logging.WARNING, logger="config.db_faults")
    connection.close()
    passed_a_batch = once(
        lambda p: _read(p, "SELECT max(progress) FROM topup_series WHERE code = '779'") >= 100
    )
    with terminator(passed_a_batch) as cut:
        generate(tree["operator"], tree["north"], quantity=500, code="779", background=None)
    series = Series.objects.get(code="779")
    assert cut.killed and cut.killed[0] > 0
    assert "starting it again" in caplog.text
    assert (series.state, series.progress) == ("done", 500)
    cards = Card.objects.filter(series=series)
    assert cards.count() == 500 == cards.values("number").distinct().count()


@pytest.mark.django_db(transaction=True)
def test_a_sheet_whose_connections_are_terminated_is_rendered_whole(
    tree, settings, terminator, monkeypatch, caplog
):
    settings.PRINT_SHEET_BACKGROUND_THRESHOLD = 5
    monkeypatch.setattr(sheets, "CHUNK_PAGES", 1)
    real_render = sheet_jobs.render_sheet

    def slow(rows, layout, *, progress=None):
        def report(done):
            time.sleep(0.05)
            progress(done)

        return real_render(rows, layout, progress=report)

    monkeypatch.setattr(sheet_jobs, "render_sheet", slow)
    operator = tree["operator"]
    series = generate(operator, tree["north"], quantity=12, code="780")
    caplog.set_level(logging.WARNING, logger="config.db_faults")
    connection.close()
    passed_a_page = once(lambda p: _read(p, "SELECT max(progress) FROM topup_sheetjob") >= 3)
    with terminator(passed_a_page) as cut:
        result = services.cards_print(
            user=operator,
            cards=Card.objects.filter(series=series),
            selection={"search": "series=780"},
            layout=services.SheetLayout(paper="thermal"),
            background=True,
        )
    job = SheetJob.objects.get(pk=result.job.pk)
    assert cut.killed and cut.killed[0] > 0
    assert "starting it again" in caplog.text
    assert (job.state, job.progress, job.pages) == ("done", 12, 12)
    assert job.result is not None


@pytest.mark.django_db(transaction=True)
def test_the_reaper_resumes_a_job_stopped_by_an_outage_within_its_run_limit(tree, settings):
    settings.TOPUP_JOB_MAX_RUNS = 2
    operator = tree["operator"]
    generate(operator, tree["north"], quantity=30, code="781")
    job = BulkJob.objects.create(
        kind="delete",
        selection={"search": "series=781"},
        created_by=operator,
        state=BulkJob.State.FAILED,
        resumable=True,
        runs=1,
        error="The database stayed unreachable for 120 seconds.",
    )
    spent = BulkJob.objects.create(
        kind="delete",
        selection={"search": "series=781"},
        created_by=operator,
        state=BulkJob.State.FAILED,
        resumable=True,
        runs=2,
    )
    counts = services.jobs_reap()
    assert counts["requeued"] == 1
    job.refresh_from_db()
    spent.refresh_from_db()
    # The immediate task backend ran the requeued job as the reaper committed.
    assert (job.state, job.runs, job.progress, job.error) == ("done", 2, 30, "")
    assert not Card.objects.filter(series__code="781").exists()
    assert (spent.state, spent.runs) == ("failed", 2)  # its run limit is spent


@pytest.mark.django_db(transaction=True)
def test_a_key_rotation_whose_connections_are_terminated_moves_every_card(
    tree, settings, terminator, monkeypatch, caplog
):
    settings.PIN_HMAC_KEY = OLD_DIGEST
    settings.PIN_ENCRYPTION_KEYS = f"1:{OLD_CIPHER}"
    series = SeriesFactory(code="782", reseller=tree["north"], amount=Decimal("2.00"))
    pins = _old_cards(series, 2000)
    settings.PIN_HMAC_KEY = STRONG_DIGEST
    settings.PIN_HMAC_KEY_PREVIOUS = OLD_DIGEST
    settings.PIN_ENCRYPTION_KEYS = f"1:{OLD_CIPHER},2:{STRONG_CIPHER}"
    real = services.keys._move

    def slow(card):
        time.sleep(0.0005)
        real(card)

    monkeypatch.setattr(services.keys, "_move", slow)
    caplog.set_level(logging.WARNING, logger="config.db_faults")
    connection.close()
    moved = "SELECT count(*) FROM topup_card WHERE pin_key_version = 2"
    with terminator(once(lambda p: _read(p, moved) >= 400)) as cut:
        call_command("rotate_pin_keys", batch_size=100, stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert cut.killed and cut.killed[0] > 0
    assert "Key rotation" in caplog.text and "trying again" in caplog.text
    assert not Card.objects.exclude(pin_key_version=2).exists()
    new = PinService(hmac_key=STRONG_DIGEST, encryption_keys=f"2:{STRONG_CIPHER}")
    rows = Card.objects.values_list("number", "pin_digest", "pin_encrypted")
    assert all(
        new.decrypt(token, 2, number) == pins[number] and digest == new.digest(pins[number])
        for number, digest, token in rows
    )
