from django.core.management.base import BaseCommand, CommandError

from topup import services
from topup.services.redemption_hours import redemption_hour_differences


class Command(BaseCommand):
    help = (
        "Recount the card summary from the cards and report every difference (there should be "
        "none: triggers keep it exact), and the redemptions per hour likewise. --check only "
        "compares; without it the summary is replaced by the recount, while card writes wait."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="compare only; exit 1 on any difference"
        )

    def handle(self, *args, **options):
        if options["check"]:
            differences = services.summary_differences()
        else:
            differences = services.summary_rebuild()
        for d in differences:
            key = ", ".join(
                f"{name}={value}" for name, value in zip(services.SUMMARY_KEY, d.key, strict=True)
            )
            self.stdout.write(f"DIFFERENCE {key}: summary {d.summary}, cards {d.cards}")
        hours = redemption_hour_differences()
        for key, summed, counted in hours:
            self.stdout.write(f"DIFFERENCE redemptions of hour {key}: {summed}, cards {counted}")
        if hours:
            raise CommandError(
                f"{len(hours)} hour(s) of redemptions differ from the cards (triggers of 0019)."
            )
        if not differences:
            self.stdout.write(self.style.SUCCESS("The card summary matches the cards."))
        elif options["check"]:
            raise CommandError(f"{len(differences)} key(s) differ; run without --check to rebuild.")
        else:
            self.stdout.write(
                self.style.WARNING(f"{len(differences)} key(s) differed; the summary is rebuilt.")
            )
