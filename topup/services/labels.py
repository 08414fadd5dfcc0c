"""A series' label and notes: free text the operator edits and searches by."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from resellers.models import AuditEvent, audit

from ..models import Series
from ..models.cards import LABEL_MAX, NOTES_MAX


def check_label_and_notes(*, label: str, notes: str) -> tuple[str, str]:
    """The label and notes trimmed; ValidationError (by field) when either is too long."""
    label, notes = label.strip(), notes.strip()
    errors = {}
    if len(label) > LABEL_MAX:
        errors["label"] = f"A label has at most {LABEL_MAX} characters."
    if len(notes) > NOTES_MAX:
        errors["notes"] = f"Notes have at most {NOTES_MAX:,} characters."
    if errors:
        raise ValidationError(errors)
    return label, notes


def series_describe(*, user, series_id: int, label: str, notes: str) -> tuple[Series, bool]:
    """Set a series' label and notes; returns (series, whether anything changed).

    Only a series in the user's part of the tree, with the generate right. An edit that
    changes nothing writes nothing, audit row included; a change is audited with both the
    old and the new text, in the same transaction.
    """
    if not user.has_perm("topup.generate_series"):
        raise PermissionDenied
    label, notes = check_label_and_notes(label=label, notes=notes)
    with transaction.atomic():
        series = Series.objects.visible_to(user).select_for_update().get(pk=series_id)
        if (series.label, series.notes) == (label, notes):
            return series, False
        old = {"label": series.label, "notes": series.notes}
        series.label, series.notes = label, notes
        series.save(update_fields=["label", "notes"])
        audit(
            AuditEvent.Action.SERIES_DESCRIBED,
            actor=user,
            series=series.pk,
            code=series.code,
            reseller=series.reseller_id,
            old=old,
            new={"label": label, "notes": notes},
        )
    return series, True
