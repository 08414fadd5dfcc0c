"""The models of top-up cards, one module per concern; Django finds them all through here.

- `cards`: series, cards, the displayed statuses as SQL conditions.
- `summary`: the card summary's delta rows, the purged cards' counts, redemptions per hour.
- `redemption`: redemption attempts.
- `events`: which cards an audited action or a background job touched.
- `jobs`: background bulk jobs and card sheet jobs.
- `printing`: print shops.
- `epins`: e-PIN products and the cards sold on demand.
"""

from .cards import CHANGEABLE, LIVE, STATUS_CONDITIONS, Card, CardQuerySet, Series
from .epins import CardSale, EpinProduct
from .events import CARD_RANGE_SPAN, CardEventRange, audit_cards, card_runs
from .jobs import LANGUAGE_MESSAGE, BulkJob, Job, SheetJob, default_language, is_printed_language
from .printing import PrintShop
from .redemption import RedemptionAttempt
from .summary import CardCounts, CardSummary, CardSummaryQuerySet, PurgedCards, RedemptionHour

__all__ = [
    "CARD_RANGE_SPAN",
    "CHANGEABLE",
    "LIVE",
    "STATUS_CONDITIONS",
    "BulkJob",
    "Card",
    "CardCounts",
    "CardEventRange",
    "CardQuerySet",
    "CardSale",
    "EpinProduct",
    "CardSummary",
    "CardSummaryQuerySet",
    "Job",
    "PrintShop",
    "PurgedCards",
    "RedemptionAttempt",
    "RedemptionHour",
    "Series",
    "SheetJob",
    "audit_cards",
    "card_runs",
    "default_language",
    "is_printed_language",
    "LANGUAGE_MESSAGE",
]
