"""What changes the reseller tree and its staff: every action scoped, checked and audited.

Each service takes the acting user (`actor`), refuses what lies outside the actor's subtree or
rights (PermissionDenied: views answer 404 before it comes to that), refuses bad input with a
ValidationError naming the field, and writes its audit row in its own transaction.
"""

import secrets

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q, Value
from django.db.models.functions import Concat, Length, Substr
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from locales.zones import validate_time_zone

from .currencies import is_iso_currency
from .models import AuditEvent, Reseller, User, audit, lock_tree
from .scoping import GROUP_CUSTOMERS, GROUP_OPERATORS, is_staff_member

PATH_MAX = Reseller._meta.get_field("path").max_length


def require_right(actor, right: str) -> None:
    """PermissionDenied unless `actor` is active staff (or a superuser) holding `right`."""
    if not (actor.is_authenticated and actor.is_active and actor.has_perm(right)):
        raise PermissionDenied
    if not (is_staff_member(actor) or actor.is_superuser):
        raise PermissionDenied


def _actor_root(actor) -> Reseller | None:
    """The actor's company as the database has it now (its path may have moved); None for a
    superuser without a company, who sees the whole tree."""
    if actor.reseller_id is None:
        return None
    return Reseller.objects.get(pk=actor.reseller_id)


def _in_scope(actor, reseller: Reseller, root: Reseller | None = None) -> bool:
    root = root or _actor_root(actor)
    if root is None:
        return actor.is_superuser
    return reseller.path.startswith(root.path)


def require_scope(actor, *resellers: Reseller) -> None:
    """PermissionDenied unless every reseller lies in the actor's subtree (read afresh)."""
    root = _actor_root(actor)
    for reseller in resellers:
        if not _in_scope(actor, reseller, root):
            raise PermissionDenied


def reseller_create(*, actor, parent: Reseller, name: str, currency: str) -> Reseller:
    """Add a company under `parent` (in the actor's subtree, active)."""
    require_right(actor, "resellers.add_reseller")
    with transaction.atomic():
        lock_tree()
        parent = Reseller.objects.select_for_update().get(pk=parent.pk)  # vs. deactivation
        require_scope(actor, parent)
        if not parent.is_active:
            raise ValidationError(
                {"parent": _("This company is inactive: it gets no new companies.")}
            )
        if not is_iso_currency(currency):
            raise ValidationError({"currency": _("Choose an ISO 4217 currency, such as USD.")})
        reseller = Reseller(name=name.strip(), currency=currency, parent=parent)
        reseller.full_clean(exclude=["path"])
        reseller.save()
        audit(
            AuditEvent.Action.RESELLER_CREATED,
            actor=actor,
            reseller=reseller.pk,
            name=reseller.name,
            currency=currency,
            parent=parent.pk,
        )
    return reseller


def reseller_rename(*, actor, reseller: Reseller, name: str) -> Reseller:
    require_right(actor, "resellers.change_reseller")
    require_scope(actor, reseller)
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Enter the company's name.")})
    with transaction.atomic():
        old = Reseller.objects.select_for_update().get(pk=reseller.pk).name
        Reseller.objects.filter(pk=reseller.pk).update(name=name)
        reseller.name = name
        audit(
            AuditEvent.Action.RESELLER_RENAMED, actor=actor, reseller=reseller.pk, old=old, new=name
        )
    return reseller


def reseller_set_active(*, actor, reseller: Reseller, active: bool) -> Reseller:
    """Deactivate (or reactivate) a company: an inactive one gets no new series, companies
    or customers; its cards and customers keep redeeming unless blocked."""
    require_right(actor, "resellers.change_reseller")
    require_scope(actor, reseller)
    if not active and reseller.pk == actor.reseller_id:
        raise ValidationError(_("You cannot deactivate your own company."))
    with transaction.atomic():
        Reseller.objects.filter(pk=reseller.pk).update(is_active=active)
        reseller.is_active = active
        audit(
            AuditEvent.Action.RESELLER_ACTIVATED
            if active
            else AuditEvent.Action.RESELLER_DEACTIVATED,
            actor=actor,
            reseller=reseller.pk,
        )
    return reseller


def move_errors(*, actor, reseller: Reseller, new_parent: Reseller | None) -> dict[str, str]:
    """Why `reseller` cannot move under `new_parent` now ({} when it can), by field."""
    if new_parent is None:
        return {"parent": _("Choose the new parent company.")}
    root = _actor_root(actor)
    if not (_in_scope(actor, reseller, root) and _in_scope(actor, new_parent, root)):
        return {"parent": _("Both companies must be in your part of the tree.")}
    if reseller.parent_id is None or (root is not None and reseller.pk == root.pk):
        return {
            "parent": _("%(company)s is the top of your tree: it cannot move.")
            % {"company": reseller}
        }
    if new_parent.path.startswith(reseller.path):
        return {
            "parent": _("%(new_parent)s is %(company)s or below it: that would make a cycle.")
            % {"new_parent": new_parent, "company": reseller}
        }
    if new_parent.pk == reseller.parent_id:
        return {
            "parent": _("%(company)s is already under %(new_parent)s.")
            % {"company": reseller, "new_parent": new_parent}
        }
    deepest = Reseller.objects.subtree_of(reseller).aggregate(n=Max(Length("path")))["n"]
    if deepest - len(reseller.path) + len(new_parent.path) + len(f"{reseller.pk}/") > PATH_MAX:
        return {"parent": _("The tree would become too deep there.")}
    return {}


def reseller_move(*, actor, reseller: Reseller, new_parent: Reseller) -> int:
    """Move `reseller` and its whole subtree under `new_parent`; returns how many moved.

    Guarantees: under the tree lock (which creations also take), the paths are read afresh,
    cycles and companies outside the actor's subtree are refused, and one UPDATE rewrites the
    path prefix of every reseller in the subtree, in one transaction with the new parent and
    the audit row. Scope (a prefix of the path) and redemption (the ancestors on the path)
    are right for everyone the moment it commits.
    """
    require_right(actor, "resellers.change_reseller")
    with transaction.atomic():
        lock_tree()
        reseller = Reseller.objects.get(pk=reseller.pk)
        new_parent = Reseller.objects.get(pk=new_parent.pk)
        errors = move_errors(actor=actor, reseller=reseller, new_parent=new_parent)
        if errors:
            raise ValidationError(errors)
        old_prefix, new_prefix = reseller.path, f"{new_parent.path}{reseller.pk}/"
        moved = Reseller.objects.filter(path__startswith=old_prefix).update(
            path=Concat(Value(new_prefix), Substr("path", len(old_prefix) + 1))
        )
        old_parent = reseller.parent_id
        Reseller.objects.filter(pk=reseller.pk).update(parent=new_parent)
        audit(
            AuditEvent.Action.RESELLER_MOVED,
            actor=actor,
            reseller=reseller.pk,
            old_parent=old_parent,
            new_parent=new_parent.pk,
            old_path=old_prefix,
            new_path=new_prefix,
            resellers=moved,
        )
    return moved


# Staff users


def staff_roles() -> list[Group]:
    """The roles a staff user can be given: every group but the customers'."""
    return list(Group.objects.exclude(name=GROUP_CUSTOMERS).order_by("name"))


def grantable(actor, group: Group) -> bool:
    """A user never grants more than it holds: every right of the role must be its own."""
    if actor.is_superuser:
        return True
    held = actor.get_all_permissions()
    return all(
        f"{app_label}.{codename}" in held
        for app_label, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    )


def login_create(*, username: str, group: Group, **fields) -> tuple[User, str]:
    """A new login in `group` with a temporary password (returned, to be shown once) that
    must be changed at first sign-in. No checks, no audit: for services that do both."""
    password = secrets.token_urlsafe(12)
    user = User(username=username, must_change_password=True, **fields)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.add(group)
    return user, password


def staff_user_create(
    *,
    actor,
    reseller: Reseller,
    username: str,
    role: Group,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> tuple[User, str]:
    """Add a staff user to a company in the actor's subtree, with a role the actor may grant.

    Returns the user and its temporary password, to be shown once: the user must choose a new
    one at first sign-in. Operators belong to the root company only.
    """
    require_right(actor, "resellers.add_user")
    require_scope(actor, reseller)
    if role.name == GROUP_CUSTOMERS:
        raise ValidationError({"role": _("Customers get their login from the Customers section.")})
    if role.name == GROUP_OPERATORS and reseller.parent_id is not None:
        raise ValidationError({"role": _("Operators belong to the root company only.")})
    if not grantable(actor, role):
        raise ValidationError({"role": _("You cannot grant rights you do not hold yourself.")})
    with transaction.atomic():
        user, password = login_create(
            username=username,
            group=role,
            first_name=first_name,
            last_name=last_name,
            email=email,
            reseller=reseller,
            is_staff=role.name == GROUP_OPERATORS,
        )
        audit(
            AuditEvent.Action.USER_CREATED,
            actor=actor,
            user=user.pk,
            reseller=reseller.pk,
            role=role.name,
        )
    return user, password


def rights_of(user: User) -> set[str]:
    """Every right granted to the user, directly or by a group, active or not."""
    rows = (
        Permission.objects.filter(Q(group__user=user) | Q(user=user))
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    return {f"{app_label}.{codename}" for app_label, codename in rows}


# What a staff user may not do to itself, or to a user holding rights it lacks, by action.
_OUT_OF_REACH = {
    "deactivate": (
        gettext_lazy("You cannot deactivate yourself."),
        gettext_lazy("You cannot deactivate a user who holds rights you do not hold."),
    ),
    "reactivate": (
        gettext_lazy("You cannot reactivate yourself."),
        gettext_lazy("You cannot reactivate a user who holds rights you do not hold."),
    ),
    "reset_password": (
        gettext_lazy("You cannot reset your own password."),
        gettext_lazy("You cannot reset the password of a user who holds rights you do not hold."),
    ),
}


def _require_staff_user_in_reach(actor, user: User, action: str) -> None:
    """A staff user of the actor's subtree, not the actor, holding no right the actor lacks
    (else resetting its password would hand the actor those rights)."""
    require_right(actor, "resellers.change_user")
    if user.reseller_id is None:
        raise PermissionDenied
    require_scope(actor, Reseller.objects.get(pk=user.reseller_id))
    if user.pk == actor.pk:
        raise ValidationError(str(_OUT_OF_REACH[action][0]))
    if actor.is_superuser:
        return
    if user.is_superuser or not rights_of(user) <= actor.get_all_permissions():
        raise ValidationError(str(_OUT_OF_REACH[action][1]))


def user_set_active(*, actor, user: User, active: bool) -> User:
    """Stop (or let again) a staff user of the actor's subtree sign in. Users are never
    deleted: the ledger and the audit log keep naming them."""
    _require_staff_user_in_reach(actor, user, "deactivate" if not active else "reactivate")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=active)
        user.is_active = active
        audit(
            AuditEvent.Action.USER_ACTIVATED if active else AuditEvent.Action.USER_DEACTIVATED,
            actor=actor,
            user=user.pk,
        )
    return user


def user_password_reset(*, actor, user: User) -> str:
    """Give a staff user of the actor's subtree a new temporary password (returned, to be
    shown once), to be changed at its next sign-in; its other sessions end."""
    _require_staff_user_in_reach(actor, user, "reset_password")
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user.set_password(password)  # a new hash also ends the user's signed-in sessions
        user.must_change_password = True
        user.save(update_fields=["password", "must_change_password"])
        audit(AuditEvent.Action.USER_PASSWORD_RESET, actor=actor, user=user.pk)
    return password


def user_set_theme(*, user: User, theme: str) -> None:
    """Store the user's own colour theme (one of User.Theme). A display preference of the user
    itself, so it needs no right and writes no audit row."""
    if theme not in User.Theme.values:
        raise ValidationError({"theme": _("Unknown theme.")})
    User.objects.filter(pk=user.pk).update(theme=theme)
    user.theme = theme


def user_set_preferences(*, user: User, language: str | None = None, time_zone: str | None = None):
    """Store the user's own language and/or time zone (blank: the browser's language, the site's
    zone); None leaves one as it is. A preference of the user itself: no right, no audit row."""
    changes = {}
    if language is not None:
        if language and language not in dict(settings.LANGUAGES):
            raise ValidationError({"language": _("Unknown language.")})
        changes["language"] = language
    if time_zone is not None:
        validate_time_zone(time_zone)
        changes["time_zone"] = time_zone
    if changes:
        User.objects.filter(pk=user.pk).update(**changes)
        for name, value in changes.items():
            setattr(user, name, value)
