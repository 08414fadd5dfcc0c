"""Pages of the card list that cost the same at any size.

The number of cards comes from elsewhere (the summary, or a count the page already made), so
no page counts the search again. A page is found in one of two ways:

- "Next" and "Previous" carry the key of the row they continue from (keyset pagination): the
  database starts the index walk right there, whatever the page number.
- A page chosen by number (or in another sort order) skips rows of the index: on the list's own
  order that is an index-only walk over keys, then the 50 rows are read by primary key.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.paginator import Page, Paginator
from django.db.models import DateTimeField, Func, Value

DEFAULT_ORDER = ["-created_at", "-pk"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cursor_of(card) -> str:
    """The opaque key of a card in the default order: '<microseconds>.<id>'."""
    micros = (card.created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{card.pk}"


def _parse(cursor: str) -> tuple[datetime, int] | None:
    micros, _, pk = cursor.partition(".")
    if not (micros.lstrip("-").isdigit() and pk.isdigit()) or len(cursor) > 40:
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except OverflowError:
        return None


class _Row(Func):
    """A row value, `(a, b)`: compared as a whole, it is one range of a two-column index."""

    template = "(%(expressions)s)"
    output_field = DateTimeField()


def _from_key(cards, key: tuple[datetime, int], lookup: str):
    """The cards before (lt) or after (gt) `key` in the default order, as an index range."""
    created_at, pk = key
    start = _Row(Value(created_at, output_field=DateTimeField()), Value(pk))
    return cards.alias(list_key=_Row("created_at", "id")).filter(**{f"list_key__{lookup}": start})


@dataclass
class CardPage:
    page: Page
    cards: list
    next_cursor: str = ""
    previous_cursor: str = ""


def card_page(
    cards, *, count: int, per_page: int, number, after: str = "", before: str = "", plan=None
):
    """The requested page of `cards` (ordered), given the total `count` of the search.

    With a `plan` (topup/card_list_plan.py) a numbered page's ids come from its index walk,
    and "Next"/"Previous" carry a key only where the plan walks the list's own order.
    """
    paginator = Paginator(cards, per_page)
    paginator.count = count
    page = paginator.get_page(number)
    default_order = list(cards.query.order_by) == DEFAULT_ORDER and (plan is None or plan.keyset)
    key = _parse(after or before) if default_order and (after or before) else None
    if key is not None and after:
        ids = list(_from_key(cards, key, "lt").values_list("pk", flat=True)[:per_page])
    elif key is not None:
        ids = _from_key(cards, key, "gt").order_by("created_at", "pk")
        ids = list(reversed(ids.values_list("pk", flat=True)[:per_page]))
    elif count and plan is not None:
        ids = plan.ids(page.start_index() - 1, page.end_index() - page.start_index() + 1)
    elif count:
        ids = list(cards.values_list("pk", flat=True)[page.start_index() - 1 : page.end_index()])
    else:
        ids = []
    by_id = cards.model.objects.filter(pk__in=ids).with_display_status()
    by_id = by_id.select_related("reseller", "activated_by").in_bulk()
    rows = [by_id[pk] for pk in ids if pk in by_id]
    page.object_list = rows
    result = CardPage(page=page, cards=rows)
    if default_order and rows:
        result.next_cursor = cursor_of(rows[-1])
        result.previous_cursor = cursor_of(rows[0])
    return result
