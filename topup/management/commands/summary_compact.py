from django.core.management.base import BaseCommand

from config.db_faults import with_reconnect
from topup import services


class Command(BaseCommand):
    help = (
        "Fold the card summary's delta rows into one row per key. Safe at any time and "
        "concurrently with redemptions; schedule it (e.g. every few minutes) on busy systems."
    )

    def handle(self, *args, **options):
        before = services.summary_row_count()
        removed = with_reconnect(services.summary_compact, what="Summary compaction")
        self.stdout.write(f"Card summary: {before:,} rows, {removed:,} folded away.")
