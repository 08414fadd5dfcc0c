"""Serial-number range lookups that the card number's index can serve.

The unique index on `Card.number` uses `varchar_pattern_ops` (one index for uniqueness, exact
lookups and prefix search), which orders by bytes whatever the database's collation; only the
pattern operators (`~>=~`, `~<=~`) can use it for a range. SQLite compares bytes already.
"""

from django.db.models import CharField, Lookup


class _PatternCompare(Lookup):
    operators: dict[str, str]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        operator = self.operators["postgresql" if connection.vendor == "postgresql" else "other"]
        return f"{lhs} {operator} {rhs}", [*lhs_params, *rhs_params]


@CharField.register_lookup
class PatternGreaterOrEqual(_PatternCompare):
    lookup_name = "pattern_gte"
    operators = {"postgresql": "~>=~", "other": ">="}


@CharField.register_lookup
class PatternLessOrEqual(_PatternCompare):
    lookup_name = "pattern_lte"
    operators = {"postgresql": "~<=~", "other": "<="}
