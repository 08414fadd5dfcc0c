from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from config.db_faults import with_reconnect
from topup import services
from topup.management.commands.generate_cards import ProgressBar


class Command(BaseCommand):
    help = (
        "Re-encrypt every card under the newest PIN encryption key and re-digest it under the "
        "current PIN_HMAC_KEY, in batches; safe to stop and run again (docs/operations.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args, batch_size, **options):
        if not 1 <= batch_size <= 50_000:
            raise CommandError("--batch-size must be from 1 to 50000.")
        total = services.cards_to_rotate().count()
        bar = ProgressBar(total or 1, self.stdout)
        try:
            # Resumable batch by batch: after an outage it goes on with the cards left.
            result = with_reconnect(
                lambda: services.pin_keys_rotate(batch_size=batch_size, progress=bar.update),
                what="Key rotation",
            )
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                ngettext(
                    "%(n)s card moved to the newest PIN keys.",
                    "%(n)s cards moved to the newest PIN keys.",
                    result.moved,
                )
                % {"n": f"{result.moved:,}"}
            )  # fmt: skip
        )
        if result.remaining:
            self.stdout.write(
                ngettext(
                    "%(n)s card made meanwhile: run it again.",
                    "%(n)s cards made meanwhile: run it again.",
                    result.remaining,
                ) % {"n": f"{result.remaining:,}"}
            )  # fmt: skip
