from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from billing.models import Account, Transaction
from billing.services import account_credit
from resellers.models import Reseller, User
from resellers.scoping import GROUP_CUSTOMERS, GROUP_OPERATORS, GROUP_RESELLER_USERS
from topup import services
from topup.models import Series

DEMO_PASSWORD = "topup-demo"

# username, group, reseller, first name
STAFF = [
    ("operator", GROUP_OPERATORS, "Acme Billing", "Olivia"),
    ("north", GROUP_RESELLER_USERS, "North Telecom", "Nina"),
    ("northretail", GROUP_RESELLER_USERS, "North Retail", "Noah"),
    ("south", GROUP_RESELLER_USERS, "South Voice", "Sam"),
]
# username, account name, reseller, currency, opening balance
CUSTOMERS = [
    ("alice", "Alice Adams", "North Telecom", "USD", Decimal("25.00")),
    ("carol", "Carol Cruz", "North Retail", "USD", Decimal("5.50")),
    ("bruno", "Bruno Brandt", "South Voice", "EUR", Decimal("40.00")),
]


class Command(BaseCommand):
    help = (
        "Create demo companies, users, accounts and series "
        "(DEBUG only; on the SQLite demo or a database with no users)."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_data runs only with DEBUG on: it creates known passwords.")
        if not self.is_demo_database() and User.objects.exists():
            raise CommandError(
                "demo_data runs only on the SQLite demo database or on a database with no users: "
                "it creates users with known passwords and would give them existing accounts."
            )
        with transaction.atomic():
            resellers = self._resellers()
            self._staff(resellers)
            self._customers(resellers)
            self._series(resellers)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in at http://127.0.0.1:8000"))
        self.stdout.write(f"Every demo user's password is: {DEMO_PASSWORD}")
        for username, group, reseller, _ in STAFF:
            self.stdout.write(f"  {username:<12} {group} of {reseller}")
        numbers = dict(Account.objects.values_list("name", "number"))
        for username, name, reseller, currency, _ in CUSTOMERS:
            self.stdout.write(
                f"  {username:<12} customer {name} ({currency}) of {reseller},"
                f" account number {numbers.get(name, '?')}"
            )

    @staticmethod
    def is_demo_database(db: dict | None = None) -> bool:
        """The SQLite file of `make demo` (db.sqlite3 beside manage.py), nothing else."""
        db = db or connection.settings_dict
        return db["ENGINE"] == "django.db.backends.sqlite3" and Path(str(db["NAME"])).resolve() == (
            settings.BASE_DIR / "db.sqlite3"
        )

    def _resellers(self) -> dict[str, Reseller]:
        tree = [
            ("Acme Billing", "USD", None),
            ("North Telecom", "USD", "Acme Billing"),
            ("South Voice", "EUR", "Acme Billing"),
            ("North Retail", "USD", "North Telecom"),
        ]
        resellers = {}
        for name, currency, parent in tree:
            resellers[name], _ = Reseller.objects.get_or_create(
                name=name,
                defaults={"currency": currency, "parent": resellers.get(parent)},
            )
        return resellers

    def _user(self, username: str, group: str, first_name: str, **fields) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first_name, **fields}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=group))
        return user

    def _staff(self, resellers):
        for username, group, reseller, first_name in STAFF:
            self._user(
                username,
                group,
                first_name,
                reseller=resellers[reseller],
                is_staff=group == GROUP_OPERATORS,
            )

    def _customers(self, resellers):
        for username, name, reseller, currency, opening in CUSTOMERS:
            user = self._user(username, GROUP_CUSTOMERS, name.split()[0])
            account, created = Account.objects.get_or_create(
                name=name, defaults={"reseller": resellers[reseller], "currency": currency}
            )
            if account.user_id is None:
                Account.objects.filter(pk=account.pk).update(user=user)
            if created:
                account_credit(
                    account=account,
                    amount=opening,
                    kind=Transaction.Kind.OPENING,
                    description="Opening balance",
                )

    def _series(self, resellers):
        operator = User.objects.get(username="operator")
        expiry = timezone.now() + timedelta(days=365)
        for code, reseller, amount in [
            ("101", "North Telecom", Decimal("10.00")),
            ("201", "South Voice", Decimal("20.00")),
        ]:
            if Series.objects.filter(code=code).exists():
                continue
            services.series_generate(
                user=operator,
                request=services.SeriesRequest(
                    reseller=resellers[reseller],
                    amount=amount,
                    quantity=25,
                    code=code,
                    expires_at=expiry,
                ),
                background=False,
            )
