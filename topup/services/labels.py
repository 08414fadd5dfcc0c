"""A series' label and notes (free text the operator edits and searches by) and the
language printed on its cards."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from locales.formats import number
from resellers.models import AuditEvent, audit

from ..models import LANGUAGE_MESSAGE, Series, is_printed_language
from ..models.cards import LABEL_MAX, NOTES_MAX


def check_label_and_notes(*, label: str, notes: str) -> tuple[str, str]:
    """The label and notes trimmed; ValidationError (by field) when either is too long."""
    label, notes = label.strip(), notes.strip()
    errors = {}
    if len(label) > LABEL_MAX:
        errors["label"] = ValidationError(
            _("A label has at most %(most)s characters."),
            code="max_length",
            params={"most": number(LABEL_MAX)},
        )
    if len(notes) > NOTES_MAX:
        errors["notes"] = ValidationError(
            _("Notes have at most %(most)s characters."),
            code="max_length",
            params={"most": number(NOTES_MAX)},
        )
    if errors:
        raise ValidationError(errors)
    return label, notes


def series_describe(
    *, user, series_id: int, label: str, notes: str, language: str | None = None
) -> tuple[Series, bool]:
    """Set a series' label, notes and (unless None) the language printed on its cards;
    returns (series, whether anything changed).

    Only a series in the user's part of the tree, with the generate right. An edit that
    changes nothing writes nothing, audit row included; a change is audited with both the
    old and the new text, in the same transaction.
    """
    if not user.has_perm("topup.generate_series"):
        raise PermissionDenied
    label, notes = check_label_and_notes(label=label, notes=notes)
    if language is not None and not is_printed_language(language):
        raise ValidationError({"language": ValidationError(LANGUAGE_MESSAGE, code="invalid")})
    with transaction.atomic():
        series = Series.objects.visible_to(user).select_for_update().get(pk=series_id)
        language = series.language if language is None else language
        if (series.label, series.notes, series.language) == (label, notes, language):
            return series, False
        old = {"label": series.label, "notes": series.notes}
        new = {"label": label, "notes": notes}
        if language != series.language:
            old["language"], new["language"] = series.language, language
        series.label, series.notes, series.language = label, notes, language
        series.save(update_fields=["label", "notes", "language"])
        audit(
            AuditEvent.Action.SERIES_DESCRIBED,
            actor=user,
            series=series.pk,
            code=series.code,
            reseller=series.reseller_id,
            old=old,
            new=new,
        )
    return series, True
