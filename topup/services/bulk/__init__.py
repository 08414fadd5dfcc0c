"""Actions on many cards at once (mass edit, delete, ...), export, and reading one PIN.

How a bulk action holds under load
----------------------------------
Every bulk action walks its selection in id order, in bounded chunks (keyset: the ids of the
search after the last one done), locking each chunk's rows as it reads them, in id order
(`SELECT ... ORDER BY id LIMIT n FOR UPDATE OF card`), and then changes only those that satisfy
the action's *may-change* condition. That condition is evaluated on the row itself, after its
lock is taken (PostgreSQL re-evaluates a locking SELECT on the row's newest version after a
wait, and the write re-checks it), so a card a redemption activated a moment ago is skipped,
never changed.
Hence:

- counts are true: `changed` rows were written, `skipped` = walked - changed, and
  changed + skipped = the cards selected;
- two bulk actions lock rows in the same (id) order, so they wait for each other and never
  deadlock; a redemption locks one card, so it cannot deadlock with them either. A deadlock,
  serialisation failure or lock timeout that still happens is retried (`TOPUP_BULK_RETRIES`
  times, the whole transaction) and then refused with a clear message (`BulkBusy`), never a 500;
- a selection up to `TOPUP_BULK_BACKGROUND_THRESHOLD` cards is one transaction (all or nothing);
  a larger one becomes a `BulkJob` run by the task worker, one short transaction per chunk (see
  `topup/services/jobs.py` for what that guarantees and what it does not).

Adding a bulk action (the extension point)
------------------------------------------
Subclass `BulkAction` (a frozen dataclass whose fields are the action's parameters), register it
with `@bulk_action`, and call `cards_bulk_apply(user=..., action=..., cards=..., selection=...)`:

    @bulk_action
    @dataclass(frozen=True)
    class Void(BulkAction):
        kind = "void"                      # registry key, stored on background jobs
        title = _("Void")                  # shown on the job page (gettext_lazy)
        right = "topup.void_card"          # permission checked before anything happens
        audit_action = AuditEvent.Action.CARDS_VOIDED  # one audit event, with the counts
        skip_note = _("activated and void cards are never voided")  # why cards are skipped

        def may_change(self) -> Q:         # on the card's OWN columns only (no joins)
            return Q(status__in=["new", "in_stock", "blocked"])

        def changes(self) -> dict | None:  # field -> plain value; None means DELETE the rows
            return {"status": "void"}

        @classmethod
        def changed_text(cls, n) -> str:   # the result, a whole sentence: "27 cards voided."
            return ngettext("%(n)s card voided.", "%(n)s cards voided.", n) % {"n": number(n)}

`validate(user)` refuses bad parameters (ValidationError by field), `check(user, cards)` refuses
a selection this user may not touch (four eyes), `describe()` gives the JSON
parameters (audit and jobs) and `from_description()` rebuilds the action from them in the
worker. Activated cards are never changed by the default `may_change`.

Modules: `actions` (the contract, its registry, mass edit, delete), `apply` (one transaction or
a background job), `chunks` (the locking statements and retries), `reveal` (PINs out: one
card's, the export's rows).
"""
