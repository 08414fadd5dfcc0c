"""Serial-number range lookups that the card number's index can serve.

The unique index on `Card.number` uses `varchar_pattern_ops` (one index for uniqueness, exact
lookups and prefix search), which orders by bytes whatever the database's collation; only the
pattern operators (`~>=~`, `~<=~`) can use it for a range.
"""

from django.db.models import CharField, Lookup


class _PatternCompare(Lookup):
    operator: str

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} {self.operator} {rhs}", [*lhs_params, *rhs_params]


@CharField.register_lookup
class PatternGreaterOrEqual(_PatternCompare):
    lookup_name = "pattern_gte"
    operator = "~>=~"


@CharField.register_lookup
class PatternLessOrEqual(_PatternCompare):
    lookup_name = "pattern_lte"
    operator = "~<=~"
