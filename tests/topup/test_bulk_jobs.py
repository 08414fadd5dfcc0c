"""Bulk actions on large selections run by the worker, and work whose worker died."""

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus

from resellers.models import AuditEvent
from tests.factories import AccountFactory, SeriesFactory, generate, make_card
from topup import generation, services
from topup.models import BulkJob, Card, Series, SheetJob
from topup.selectors import cards_for_selection

EDIT = reverse("topup:card-mass-edit")
DELETE = reverse("topup:card-delete")
NO_SHEETS = {"sheets_failed": 0, "sheets_requeued": 0}  # the reaper also looks at card sheets


class Killed(BaseException):
    """The worker process dying: nothing of the job's own code runs after it."""


@pytest.fixture
def big(tree, settings):
    """30 cards of series J in north (cards 5, 10 and 15 activated); jobs above 10 cards."""
    settings.TOPUP_BULK_BACKGROUND_THRESHOLD = 10
    settings.TOPUP_BULK_CHUNK_SIZE = 7
    series = SeriesFactory(code="J", reseller=tree["north"])
    account = AccountFactory(reseller=tree["north"])
    cards = []
    for n in range(1, 31):
        activated = (
            {"status": "activated", "activated_at": timezone.now(), "activated_by": account}
            if n % 5 == 0 and n <= 15
            else {}
        )
        cards.append(make_card(series=series, number=f"J-{n:08d}", **activated)[0])
    return cards


def chunks_seen(monkeypatch, *, die_after: int | None = None) -> list[list[int]]:
    """Record the ids of every chunk applied; optionally kill the worker after some chunks."""
    seen = []
    real = services.bulk.chunks.ChunkStatement.next

    def walk(statement, cards, *, after):
        if die_after is not None and len(seen) == die_after:
            raise Killed
        chunk = real(statement, cards, after=after)
        if chunk.ids:
            seen.append(chunk.ids)
        return chunk

    monkeypatch.setattr(services.bulk.chunks.ChunkStatement, "next", walk)
    return seen


def block_series_j(user) -> services.BulkResult:
    selection = {"search": "series=J"}
    return services.cards_mass_update(
        user=user,
        cards=cards_for_selection(user, selection),
        edit=services.MassEdit(status_mode="block"),
        selection=selection,
    )


def statuses(cards) -> list[str]:
    by_pk = dict(Card.objects.values_list("pk", "status"))
    return [by_pk.get(card.pk) for card in cards]


@pytest.mark.django_db(transaction=True)
def test_a_big_mass_edit_runs_in_the_background_with_progress_and_its_result(
    client, tree, big, monkeypatch
):
    progress = []
    real = services.jobs._run_chunk

    def spy(job, *args):
        finished = real(job, *args)
        progress.append(BulkJob.objects.values_list("progress", "changed").get(pk=job.pk))
        return finished

    monkeypatch.setattr(services.jobs, "_run_chunk", spy)
    client.force_login(tree["operator"])
    response = client.post(
        EDIT + "?series=J&apply_to=search",
        {"expiry_mode": "clear", "reseller_mode": "preserve", "status_mode": "block"},
    )
    job = BulkJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("topup:bulk-job-detail", args=[job.pk])
    # The test task backend ran the job as soon as the request committed; chunk by chunk:
    assert progress == [(7, 6), (14, 12), (21, 18), (28, 25), (30, 27), (30, 27)]
    assert (job.state, job.total, job.progress, job.changed, job.skipped) == ("done", 30, 30, 27, 3)
    assert statuses(big) == [
        "activated" if n % 5 == 0 and n <= 15 else "blocked" for n in range(1, 31)
    ]
    assert not Card.objects.filter(status="blocked", expires_at__isnull=False).exists()
    page = client.get(response["Location"]).content.decode()
    assert (
        "Done: 27 cards changed. 3 cards skipped: activated and void cards are never changed."
        in page
    )
    assert "expiry date cleared, cards blocked" in page
    event = AuditEvent.objects.get(action="cards.mass_edited")
    assert event.details | {"changes": None} == {
        "selection": {"search": "series=J"},
        "changes": None,
        "selected": 30,
        "changed": 27,
        "skipped": 3,
        "job": job.pk,
    }
    assert event.details["changes"] == {"expires_at": None, "status": "blocked"}


@pytest.mark.django_db(transaction=True)
def test_a_big_delete_runs_in_the_background_and_keeps_activated_cards(client, tree, big):
    client.force_login(tree["operator"])
    response = client.post(DELETE + "?series=J&apply_to=search", follow=True)
    assert "Done: 27 cards deleted. 3 cards skipped: activated cards are never deleted." in (
        response.content.decode()
    )
    assert sorted(Card.objects.values_list("number", flat=True)) == [
        "J-00000005",
        "J-00000010",
        "J-00000015",
    ]


@pytest.mark.django_db
def test_the_job_page_shows_progress_while_running_and_only_within_scope(client, tree):
    job = BulkJob.objects.create(
        kind="mass_edit", params={"status": "blocked"}, selection={"search": "series=J"},
        created_by=tree["north_user"], state=BulkJob.State.RUNNING, total=200, progress=50,
        changed=40,
    )  # fmt: skip
    url = reverse("topup:bulk-job-detail", args=[job.pk])
    client.force_login(tree["operator"])
    page = client.get(url).content.decode()
    listing = client.get(reverse("topup:bulk-job-list")).content.decode()
    assert f'href="{url}"' in listing
    assert (
        "50 of 200 cards walked (25%) so far: 40 cards changed. 10 cards skipped: activated and "
        "void cards are never changed." in page
    )
    assert 'http-equiv="refresh"' in page
    listing = client.get(reverse("topup:bulk-job-list")).content.decode()
    assert "Mass edit" in listing and "50 of 200" in listing
    client.force_login(tree["south_user"])
    assert client.get(url).status_code == 404
    assert (
        "No background action yet." in client.get(reverse("topup:bulk-job-list")).content.decode()
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_is_resumed_and_changes_each_card_once(tree, big, monkeypatch):
    seen = chunks_seen(monkeypatch, die_after=2)
    job = block_series_j(tree["operator"]).job
    job.refresh_from_db()
    # Killed during the third chunk: two chunks (14 cards) are done, the rest untouched.
    assert (job.state, job.progress, job.changed, job.last_id) == ("running", 14, 12, big[13].pk)
    assert statuses(big)[14:] == ["new" if n != 15 else "activated" for n in range(15, 31)]
    assert not AuditEvent.objects.filter(action="cards.mass_edited").exists()
    monkeypatch.undo()
    seen_after = chunks_seen(monkeypatch)
    # While its heartbeat is fresh nobody touches it; once stale, it is queued again.
    assert services.jobs_reap() == {"requeued": 0, "failed": 0, "series_failed": 0} | NO_SHEETS
    BulkJob.objects.update(heartbeat_at=timezone.now() - timedelta(hours=1))
    call_command("reap_jobs", stdout=open("/dev/null", "w"))  # noqa: SIM115
    job.refresh_from_db()
    assert (job.state, job.runs, job.progress, job.changed, job.skipped) == ("done", 2, 30, 27, 3)
    walked = [pk for chunk in seen + seen_after for pk in chunk]
    assert walked == [card.pk for card in big]  # each card once, in id order
    assert statuses(big) == [
        "activated" if n % 5 == 0 and n <= 15 else "blocked" for n in range(1, 31)
    ]
    assert AuditEvent.objects.get(action="cards.mass_edited").details["changed"] == 27


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_keeps_dying_fails_and_says_what_was_applied(
    client, tree, big, monkeypatch, settings
):
    settings.TOPUP_JOB_MAX_RUNS = 1
    chunks_seen(monkeypatch, die_after=1)
    job = block_series_j(tree["operator"]).job
    BulkJob.objects.update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert services.jobs_reap() == {"requeued": 0, "failed": 1, "series_failed": 0} | NO_SHEETS
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.error == (
        "Its worker stopped 1 time(s) while running it. "
        "Cards changed before it stopped: 6; the rest were not."
    )
    assert statuses(big)[:7] == ["blocked"] * 4 + ["activated"] + ["blocked"] * 2
    assert set(statuses(big)[7:]) == {"new", "activated"}
    event = AuditEvent.objects.get(action="cards.mass_edited")
    assert (event.details["changed"], event.details["failed"]) == (6, job.error)
    client.force_login(tree["operator"])
    page = client.get(reverse("topup:bulk-job-detail", args=[job.pk])).content.decode()
    assert "This action failed: Its worker stopped" in page and "Done:" not in page
    # A task for a failed job fails too: its outcome is the job's.
    assert services.jobs.run_bulk_job.enqueue(job.pk).status == TaskResultStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_user_lost_the_right_fails_before_changing_anything(tree, big):
    user = tree["north_user"]
    job = BulkJob.objects.create(
        kind="delete", selection={"search": "series=J"}, created_by=user,
        heartbeat_at=timezone.now(),
    )  # fmt: skip
    result = services.jobs.run_bulk_job.enqueue(job.pk)
    job.refresh_from_db()
    assert result.status == TaskResultStatus.FAILED
    assert job.error == "Its user no longer holds the right to do it. No card was changed."
    assert Card.objects.count() == 30


# --- Series: the task's outcome is the series', and a dead worker's series fails ----------------
@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_a_guard_refusal_during_the_fill_fails_the_task_and_the_series(tree, settings):
    series = generate(tree["operator"], tree["north"], quantity=20, code="G", pin_length=8)
    settings.TOPUP_MAX_GUESS_RATIO = 1e-7  # between the request and the worker, the guard tightens
    Series.objects.filter(pk=series.pk).update(state=Series.State.PENDING)
    Card.objects.filter(series=series).delete()
    result = services.generation.fill_series.enqueue(series.pk)
    series.refresh_from_db()
    assert result.status == TaskResultStatus.FAILED
    assert series.state == Series.State.FAILED
    assert "Use a PIN length of at least" in series.error
    assert not Card.objects.filter(series=series).exists()


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_an_internal_error_shows_a_readable_reason_and_logs_the_detail(
    operator_client, tree, monkeypatch, settings, caplog
):
    settings.TOPUP_BACKGROUND_THRESHOLD = 10
    monkeypatch.setattr(generation, "BATCH_SIZE", 7)

    def broken(*args, **kwargs):
        raise OSError('relation "topup_card" is on fire')

    monkeypatch.setattr(services.generation.generation, "write_cards", broken)
    with caplog.at_level(logging.ERROR):
        generate(tree["operator"], tree["north"], quantity=30, code="E", background=None)
    series = Series.objects.get(code="E")
    assert series.state == Series.State.FAILED
    assert series.error == services.jobs.INTERNAL_ERROR
    assert "is on fire" in caplog.text
    page = operator_client.get(reverse("topup:series-detail", args=[series.pk])).content.decode()
    assert "is on fire" not in page and "the details are in the server log" in page


@pytest.mark.django_db
def test_a_series_whose_worker_died_is_failed_by_the_reaper(tree):
    def running(code, heartbeat):
        return Series.objects.create(
            code=code, amount=Decimal("1"), currency="USD", quantity=50_000, first_number=1,
            pin_length=12, reseller=tree["north"], state=Series.State.RUNNING, progress=20_000,
            heartbeat_at=heartbeat,
        )  # fmt: skip

    dead = running("D", timezone.now() - timedelta(hours=1))
    alive = running("A", timezone.now())
    assert services.jobs_reap()["series_failed"] == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.state, dead.progress) == (Series.State.FAILED, 0)
    assert dead.error == services.jobs.SERIES_WORKER_DIED
    assert alive.state == Series.State.RUNNING
    # A worker that still picks the dead series up does not revive it.
    assert services.series_fill(series_id=dead.pk).state == Series.State.FAILED


@pytest.mark.django_db
def test_one_reaper_treats_every_kind_of_job_by_the_shape_they_share(tree, settings):
    """A series, a bulk job and a card sheet whose workers died, and a bulk job and a sheet
    queued long ago: one `jobs_reap` fails the series and the sheet (finished, saying why),
    queues the dead bulk job again to resume at its cursor, and queues the waiting ones once
    more (their heartbeat renewed, so the next reap leaves them be)."""
    long_ago = timezone.now() - timedelta(seconds=settings.TOPUP_JOB_STALE_SECONDS + 60)
    user = tree["operator"]
    series = Series.objects.create(
        code="D", amount=Decimal("1"), currency="USD", quantity=50_000, first_number=1,
        pin_length=12, reseller=tree["north"], state=Series.State.RUNNING, progress=20_000,
        heartbeat_at=long_ago, runs=1,
    )  # fmt: skip
    dead, waiting = (
        BulkJob.objects.create(
            kind="mass_edit",
            created_by=user,
            state=state,
            heartbeat_at=long_ago,
            runs=runs,
            progress=runs * 7,
            last_id=runs * 7,
        )  # fmt: skip
        for state, runs in ((BulkJob.State.RUNNING, 1), (BulkJob.State.PENDING, 0))
    )
    sheet, waiting_sheet = (
        SheetJob.objects.create(created_by=user, total=900, state=state, heartbeat_at=long_ago)
        for state in (SheetJob.State.RUNNING, SheetJob.State.PENDING)
    )
    counts = services.jobs_reap()
    assert counts == {
        "requeued": 2, "failed": 0, "series_failed": 1, "sheets_failed": 1, "sheets_requeued": 1
    }  # fmt: skip
    for job in (series, dead, waiting, sheet, waiting_sheet):
        job.refresh_from_db()
    assert (series.state, series.progress, series.error) == (
        "failed", 0, services.jobs.SERIES_WORKER_DIED
    )  # fmt: skip
    assert (sheet.state, sheet.error) == ("failed", services.printing.jobs.SHEET_WORKER_DIED)
    assert series.finished_at is not None and sheet.finished_at is not None
    assert (dead.state, dead.runs, dead.progress, dead.last_id) == ("pending", 1, 7, 7)
    assert (dead.finished_at, waiting.state, waiting_sheet.state) == (None, "pending", "pending")
    assert min(dead.heartbeat_at, waiting.heartbeat_at, waiting_sheet.heartbeat_at) > long_ago
    assert services.jobs_reap() == dict.fromkeys(counts, 0)  # nothing left to do
