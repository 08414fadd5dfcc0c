"""The models of top-up cards, one module per concern; Django finds them all through here.

- `cards`: series, cards, the displayed statuses as SQL conditions.
- `summary`: the card summary's delta rows, the purged cards' counts, redemptions per hour.
- `redemption`: redemption attempts.
- `events`: which cards an audited action or a background job touched.
- `jobs`: background bulk jobs and card sheet jobs.
- `printing`: print shops.
"""

# The audit log lives in resellers (every app writes it). services/redemption.py and
# api/services.py still import it from here; delete these two names once they do not.
from resellers.models import AuditEvent, audit

from .cards import LIVE, STATUS_CONDITIONS, Card, CardQuerySet, Series
from .events import CARD_RANGE_SPAN, CardEventRange, audit_cards, card_runs
from .jobs import BulkJob, SheetJob
from .printing import PrintShop
from .redemption import RedemptionAttempt
from .summary import CardCounts, CardSummary, CardSummaryQuerySet, PurgedCards, RedemptionHour

__all__ = [
    "CARD_RANGE_SPAN",
    "LIVE",
    "STATUS_CONDITIONS",
    "AuditEvent",
    "BulkJob",
    "Card",
    "CardCounts",
    "CardEventRange",
    "CardQuerySet",
    "CardSummary",
    "CardSummaryQuerySet",
    "PrintShop",
    "PurgedCards",
    "RedemptionAttempt",
    "RedemptionHour",
    "Series",
    "SheetJob",
    "audit",
    "audit_cards",
    "card_runs",
]
