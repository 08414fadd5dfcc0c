"""The card list's page query: which index walk finds a page's 50 ids for a search and sort."""

from dataclasses import dataclass

from django.db.models import QuerySet

DEFAULT_ORDER = ["-created_at", "-pk"]


@dataclass
class PagePlan:
    cards: QuerySet  # the search, ordered as the page lists it
    notice: str = ""  # said on the page when the order or the search had to be narrowed

    def ids(self, offset: int, limit: int) -> QuerySet:
        """The page's ids: the query the list runs for rows offset .. offset + limit."""
        return self.cards.values_list("pk", flat=True)[offset : offset + limit]


def plan_page(filterset, cards: QuerySet) -> PagePlan:
    """The ordered search for the card list (`cards` is the filtered search)."""
    # A unique last key keeps pages stable when the sort key has ties.
    return PagePlan(cards=cards.order_by(*(cards.query.order_by or ["-created_at"]), "-pk"))
