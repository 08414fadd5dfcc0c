from django import forms
from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from .currencies import currency_choices
from .models import Reseller, User
from .scoping import role_name
from .services import staff_roles


class RoleChoiceField(forms.ModelChoiceField):
    """A role, shown by its name in the reader's language."""

    def label_from_instance(self, obj) -> str:
        return role_name(obj)


class ResellerChoiceField(forms.ModelChoiceField):
    """Companies shown indented by their depth, so the select reads as the tree."""

    def label_from_instance(self, obj):
        return f"{'— ' * (obj.depth)}{obj.name}"


class ResellerCreateForm(forms.Form):
    parent = ResellerChoiceField(label=_("Parent company"), queryset=Reseller.objects.none())
    name = forms.CharField(label=_("Name"), max_length=200)
    currency = forms.ChoiceField(label=_("Currency"), choices=currency_choices)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = Reseller.objects.visible_to(user).active()
        self.fields["parent"].initial = user.reseller_id
        if user.reseller is not None:
            self.fields["currency"].initial = user.reseller.currency

    def clean_name(self):
        return self.cleaned_data["name"].strip()


class ResellerRenameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)


class ResellerMoveForm(forms.Form):
    parent = ResellerChoiceField(label=_("New parent company"), queryset=Reseller.objects.none())
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user, reseller: Reseller, **kwargs):
        super().__init__(*args, **kwargs)
        # Its own subtree is never a place to move to (a cycle); the service checks it again.
        self.fields["parent"].queryset = Reseller.objects.visible_to(user).exclude(
            path__startswith=reseller.path
        )


class StaffUserForm(forms.Form):
    reseller = ResellerChoiceField(label=_("Company"), queryset=Reseller.objects.none())
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("Letters, digits and @ . + - _ only."),
    )
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = RoleChoiceField(label=_("Role"), queryset=Group.objects.none())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reseller"].queryset = Reseller.objects.visible_to(user)
        self.fields["reseller"].initial = user.reseller_id
        self.fields["role"].queryset = Group.objects.filter(pk__in=[g.pk for g in staff_roles()])

    def clean_username(self):
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("A user with that username already exists."))
        return username


class TwoFactorCodeForm(forms.Form):
    """A 6-digit code from the user's authenticator app, checked (and throttled) by its
    django-otp TOTP device; a used code is not accepted again."""

    token = forms.CharField(
        label=_("6-digit code from your authenticator app"),
        min_length=6,
        max_length=6,
        validators=[RegexValidator(r"^[0-9]{6}\Z", _("Enter the 6 digits your app shows."))],
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "size": 6}
        ),
    )

    def __init__(self, *args, device, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_token(self):
        token = self.cleaned_data["token"]
        allowed, _reason = self.device.verify_is_allowed()
        if not allowed:
            raise forms.ValidationError(_("Too many wrong codes: wait a minute, then try again."))
        if not self.device.verify_token(token):
            raise forms.ValidationError(
                _("That code is not right (or was used already): enter the one your app shows now.")
            )
        return token


class ThemeForm(forms.Form):
    theme = forms.ChoiceField(choices=User.Theme.choices)
    next = forms.CharField(required=False)
