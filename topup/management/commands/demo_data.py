from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from billing.models import Account
from billing.services import account_adjust, account_open
from config.embedded import DEMO_COMMENT
from resellers.models import Reseller, User
from resellers.scoping import GROUP_OPERATORS, GROUP_RESELLER_USERS
from resellers.services import reseller_create, staff_user_create
from topup import services
from topup.models import Series

DEMO_PASSWORD = "topup-demo"

# username, group, reseller, first name
STAFF = [
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
        "(DEBUG only; on the demo's own database or a database with no users)."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_data runs only with DEBUG on: it creates known passwords.")
        if not self.is_demo_database() and User.objects.exists():
            raise CommandError(
                "demo_data runs only on the demo's own database (`make demo`) or on a database"
                " with no users: "
                "it creates users with known passwords and would give them existing accounts."
            )
        with transaction.atomic():
            resellers = self._resellers()  # and the operator, who creates the rest
            self._staff(resellers)
            self._customers(resellers)
            self._series(resellers)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in at http://127.0.0.1:8000"))
        self.stdout.write(f"Every demo user's password is: {DEMO_PASSWORD}")
        self.stdout.write(f"  {'operator':<12} {GROUP_OPERATORS} of Acme Billing")
        for username, group, reseller, _ in STAFF:
            self.stdout.write(f"  {username:<12} {group} of {reseller}")
        numbers = dict(Account.objects.values_list("name", "number"))
        for username, name, reseller, currency, _ in CUSTOMERS:
            self.stdout.write(
                f"  {username:<12} customer {name} ({currency}) of {reseller},"
                f" account number {numbers.get(name, '?')}"
            )

    @staticmethod
    def is_demo_database() -> bool:
        """The database `make demo` created on its embedded server, which it marks with a
        comment (config/embedded.py); no other database carries it."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                " WHERE datname = current_database()"
            )
            return cursor.fetchone()[0] == DEMO_COMMENT

    def _resellers(self) -> dict[str, Reseller]:
        """The root and its operator are bootstrapped as in production (`createsuperuser`
        and the admin); everything else goes through the Resellers section's services."""
        root, _ = Reseller.objects.get_or_create(
            name="Acme Billing", parent=None, defaults={"currency": "USD"}
        )
        operator, created = User.objects.get_or_create(
            username="operator",
            defaults={"first_name": "Olivia", "reseller": root, "is_staff": True},
        )
        if created:
            operator.groups.add(Group.objects.get(name=GROUP_OPERATORS))
            self._demo_password(operator)
        resellers = {root.name: root}
        for name, currency, parent in [
            ("North Telecom", "USD", "Acme Billing"),
            ("South Voice", "EUR", "Acme Billing"),
            ("North Retail", "USD", "North Telecom"),
        ]:
            resellers[name] = Reseller.objects.filter(name=name).first() or reseller_create(
                actor=operator, parent=resellers[parent], name=name, currency=currency
            )
        return resellers

    def _demo_password(self, user: User) -> None:
        """Demo logins keep the documented password instead of a temporary one."""
        user.set_password(DEMO_PASSWORD)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])

    def _staff(self, resellers):
        operator = User.objects.get(username="operator")
        for username, group, reseller, first_name in STAFF:
            if User.objects.filter(username=username).exists():
                continue
            user, _ = staff_user_create(
                actor=operator,
                reseller=resellers[reseller],
                username=username,
                role=Group.objects.get(name=group),
                first_name=first_name,
            )
            self._demo_password(user)

    def _customers(self, resellers):
        operator = User.objects.get(username="operator")
        for username, name, reseller, currency, opening in CUSTOMERS:
            if Account.objects.filter(name=name).exists():
                continue
            account, _ = account_open(
                actor=operator,
                name=name,
                reseller=resellers[reseller],
                username=username,
                currency=currency,
                first_name=name.split()[0],
            )
            self._demo_password(account.user)
            account_adjust(
                actor=operator,
                account=account,
                direction="credit",
                amount=opening,
                note="Opening balance",
            )

    def _series(self, resellers):
        operator = User.objects.get(username="operator")
        expiry = timezone.now() + timedelta(days=365)
        # 101: e-PINs, released at once; 201: printed cards, in stock until released.
        for code, reseller, amount, in_stock in [
            ("101", "North Telecom", Decimal("10.00"), False),
            ("201", "South Voice", Decimal("20.00"), True),
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
                    in_stock=in_stock,
                ),
                background=False,
            )
