"""Four eyes under concurrency, real threads on PostgreSQL: a waiting request is approved
once, whoever approves it at the same moment."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from tests import factories
from tests.topup.test_redemption import run_in_threads
from tests.wallets.conftest import bill
from wallets import approvals
from wallets.models import WalletEntry, WalletRequest


def approve(**kwargs):
    try:
        return approvals.wallet_request_approve(**kwargs)
    except ValidationError as refused:  # "already decided" is an outcome here
        return refused


@pytest.mark.django_db(transaction=True)
def test_four_approvers_at_once_post_the_request_once(tree, settings):
    settings.TOPUP_FOUR_EYES = True
    settings.WALLETS_FOUR_EYES_ABOVE = Decimal("100")
    wallet = bill(tree)
    asked = approvals.wallet_money_request(
        actor=tree["operator"], wallet=wallet, kind="topup", amount=Decimal("500"), note="wire"
    )
    assert asked.pending and not WalletEntry.objects.exists()
    approvers = [factories.operator(tree["root"], username=f"approver{i}") for i in range(4)]
    results = run_in_threads(
        [(approve, {"actor": user, "request": asked.request}) for user in approvers]
    )
    posted = [r for r in results if isinstance(r, WalletEntry)]
    assert len(posted) == 1
    assert all("already decided" in " ".join(r.messages) for r in results if r not in posted)
    request = WalletRequest.objects.get()
    wallet.refresh_from_db()
    assert request.state == "approved" and request.entry == posted[0]
    assert wallet.balance == Decimal("500") == sum(e.amount for e in wallet.entries.all())
