from django.core.management.base import BaseCommand, CommandError

from topup import services


class Command(BaseCommand):
    help = (
        "Check the database's money and card records against each other: the card summary "
        "against a recount, every balance against its ledger, every activated card against its "
        "one ledger row. Prints each difference; exit status 1 if there is one. Read-only, safe "
        "on a live database; schedule it nightly and run it after every restore."
    )

    def handle(self, *args, **options):
        differences = services.integrity_differences()
        for d in differences:
            self.stdout.write(f"DIFFERENCE [{d.check}] {d.detail}")
        if differences:
            raise CommandError(f"{len(differences)} difference(s) found.")
        self.stdout.write(self.style.SUCCESS("0 differences: summary, balances and ledger agree."))
