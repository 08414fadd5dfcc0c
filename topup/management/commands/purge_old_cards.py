from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from config.db_faults import with_reconnect
from topup import services
from topup.models import Card


class Command(BaseCommand):
    help = (
        "Delete cards redeemed or expired more than --months months ago, in batches. Their "
        "counts move to the purged-cards table in the same statement, so the liability report, "
        "the ledger and the audit stay exact. Safe to schedule (e.g. nightly) and to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, required=True, help="keep this many months")
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument(
            "--dry-run", action="store_true", help="only count the cards that would go"
        )

    def handle(self, *args, **options):
        try:
            cutoff = services.purge_cutoff(months=options["months"])
            if options["dry_run"]:
                count = Card.objects.filter(services.purgeable(cutoff)).count()
                self.stdout.write(
                    ngettext(
                        "%(n)s card redeemed or expired before %(cutoff)s.",
                        "%(n)s cards redeemed or expired before %(cutoff)s.",
                        count,
                    ) % {"n": f"{count:,}", "cutoff": f"{cutoff:%Y-%m-%d}"}
                )  # fmt: skip
                return
            # Whole batches only, nothing deleted twice: after an outage it runs again.
            result = with_reconnect(
                lambda: services.cards_purge(
                    months=options["months"],
                    batch_size=options["batch_size"],
                    progress=lambda done: self.stdout.write(f"  {done:,} purged", ending="\r"),
                ),
                what="Purge",
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                ngettext(
                    "%(n)s card redeemed or expired before %(cutoff)s purged",
                    "%(n)s cards redeemed or expired before %(cutoff)s purged",
                    result.purged,
                )
                % {"n": f"{result.purged:,}", "cutoff": f"{result.cutoff:%Y-%m-%d}"}
                + ngettext(" in %(b)s batch.", " in %(b)s batches.", result.batches)
                % {"b": result.batches}
            )  # fmt: skip
        )
