from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.admin_site import OperatorModelAdmin

from .models import Reseller, User
from .selectors import subtree_summary
from .services import move_errors, reseller_move


class ResellerAdminForm(forms.ModelForm):
    """A change of parent is a move of the whole subtree: checked by the move service's rules
    and confirmed with what it moves before anything changes."""

    confirm_move = forms.BooleanField(
        label=gettext_lazy("Confirm the move"),
        required=False,
        help_text=gettext_lazy(
            "Changing the parent moves this company with every company, user, customer "
            "and card below it."
        ),
    )

    class Meta:
        model = Reseller
        fields = ["name", "currency", "parent", "is_active"]

    actor = None  # set by the admin to the signed-in user

    def clean(self):
        data = super().clean()
        reseller = self.instance
        if reseller.pk is None or "parent" not in self.changed_data:
            return data
        errors = move_errors(actor=self.actor, reseller=reseller, new_parent=data.get("parent"))
        for field, message in errors.items():
            self.add_error(field, message)
        if not errors and not data.get("confirm_move"):
            moves = ", ".join(f"{label}: {text}" for label, text in subtree_summary(reseller))
            self.add_error(
                "confirm_move",
                _("Moving %(company)s under %(new_parent)s moves %(what)s. Tick to confirm.")
                % {"company": reseller, "new_parent": data["parent"], "what": moves},
            )
        return data


@admin.register(Reseller)
class ResellerAdmin(OperatorModelAdmin):
    form = ResellerAdminForm
    list_display = ["name", "currency", "parent", "is_active", "path"]
    search_fields = ["name"]
    readonly_fields = ["path"]
    reseller_lookups = ("pk",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request, obj, form, change):
        if change and "parent" in form.changed_data:
            # The move service rewrites the subtree; the model's save never touches parent.
            reseller_move(actor=request.user, reseller=obj, new_parent=obj.parent)
        super().save_model(request, obj, form, change)


@admin.register(User)
class UserAdmin(OperatorModelAdmin, BaseUserAdmin):
    list_display = ["username", "email", "reseller", "is_staff", "is_active"]
    list_filter = ["groups", "is_staff", "is_active"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (gettext_lazy("Company"), {"fields": ["reseller", "must_change_password"]}),
    ]
    reseller_lookups = ("reseller", "account__reseller")

    DEACTIVATE_INSTEAD = gettext_lazy(
        "A user named on ledger rows cannot be deleted: the ledger keeps who made each balance "
        "change. Deactivate the user instead (untick “Active” on the user's page): they can no "
        "longer sign in, and the ledger still names them."
    )

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            messages.warning(request, self.DEACTIVATE_INSTEAD)
        return deleted, counts, perms_needed, protected
