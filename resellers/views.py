from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from locales.formats import number

from . import services
from .context_processors import navigation
from .figures import figures
from .forms import (
    ResellerCreateForm,
    ResellerMoveForm,
    ResellerRenameForm,
    StaffUserForm,
    ThemeForm,
)
from .mixins import RightRequiredMixin, ServiceFormMixin, StaffRequiredMixin, add_service_errors
from .models import Reseller, User
from .scoping import is_staff_member
from .selectors import reseller_tree, staff_users_visible_to, subtree_summary


@login_required
def home(request):
    """Send each user to the first page its rights open, never to a 403.

    A customer who may redeem lands on Payment Gateways; anyone else on the first page of
    the navigation (staff: the dashboard with the card-view right); with none, its password.
    """
    user = request.user
    if not is_staff_member(user) and user.has_perm("topup.redeem_card"):
        return redirect("topup:payment-gateways")
    items = navigation(request)["nav_items"]
    if items:
        return redirect(items[0]["url"])
    return redirect("password_change")


class ThemeSetView(LoginRequiredMixin, View):
    """POST from the header: the signed-in user's colour theme, then back to the page it was on."""

    def post(self, request):
        form = ThemeForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest(_("Unknown theme."))
        services.user_set_theme(user=request.user, theme=form.cleaned_data["theme"])
        target = form.cleaned_data["next"]
        # Only a path of this site (the header sends request.get_full_path()).
        if not target.startswith("/") or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("home")
        return HttpResponseRedirect(target)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Choosing one's own password; clears the must-change flag of a temporary password."""

    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        User.objects.filter(pk=self.request.user.pk).update(must_change_password=False)
        messages.success(self.request, _("Your password has been changed."))
        return response


class SectionMixin(RightRequiredMixin, StaffRequiredMixin):
    """Pages of the Resellers section: a right, and only the user's subtree."""

    @cached_property
    def reseller(self):
        return get_object_or_404(
            Reseller.objects.visible_to(self.request.user), pk=self.kwargs["pk"]
        )


class ResellerListView(SectionMixin, TemplateView):
    permission_required = "resellers.view_reseller"
    template_name = "resellers/reseller_list.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            rows=reseller_tree(user),
            figure_labels=[figure.label for figure in figures()],
            can_add=user.has_perm("resellers.add_reseller"),
            can_see_users=user.has_perm("resellers.view_user"),
            **kwargs,
        )


class ResellerCreateView(ServiceFormMixin, SectionMixin, FormView):
    permission_required = "resellers.add_reseller"
    template_name = "resellers/reseller_form.html"
    form_class = ResellerCreateForm
    extra_context = {
        "title": gettext_lazy("Add a company"),
        "button": gettext_lazy("Add company"),
        "cancel_url": reverse_lazy("resellers:reseller-list"),
    }

    def perform(self, data):
        reseller = services.reseller_create(actor=self.request.user, **data)
        messages.success(
            self.request,
            _("%(company)s added under %(parent)s.")
            % {"company": reseller, "parent": reseller.parent},
        )
        return redirect("resellers:reseller-detail", pk=reseller.pk)


class ResellerDetailView(SectionMixin, TemplateView):
    permission_required = "resellers.view_reseller"
    template_name = "resellers/reseller_detail.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            reseller=self.reseller,
            summary=subtree_summary(self.reseller),
            users=staff_users_visible_to(user).filter(reseller=self.reseller),
            can_change=user.has_perm("resellers.change_reseller"),
            can_add_user=user.has_perm("resellers.add_user"),
            rename_form=ResellerRenameForm(user=user, initial={"name": self.reseller.name}),
            **kwargs,
        )


class ResellerRenameView(ServiceFormMixin, SectionMixin, FormView):
    permission_required = "resellers.change_reseller"
    template_name = "resellers/reseller_form.html"
    form_class = ResellerRenameForm

    def get_initial(self):
        return {"name": self.reseller.name}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            title=_("Rename %(company)s") % {"company": self.reseller},
            button=_("Rename"),
            cancel_url=reverse("resellers:reseller-detail", args=[self.reseller.pk]),
            **kwargs,
        )

    def perform(self, data):
        services.reseller_rename(actor=self.request.user, reseller=self.reseller, **data)
        messages.success(self.request, _("Renamed to %(name)s.") % {"name": self.reseller})
        return redirect("resellers:reseller-detail", pk=self.reseller.pk)


class ResellerActiveView(SectionMixin, View):
    """POST: deactivate or reactivate a company."""

    permission_required = "resellers.change_reseller"

    def post(self, request, pk):
        active = request.POST.get("active") == "1"
        try:
            services.reseller_set_active(actor=request.user, reseller=self.reseller, active=active)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            text = _("%(company)s reactivated.") if active else _("%(company)s deactivated.")
            messages.success(request, text % {"company": self.reseller})
        return redirect("resellers:reseller-detail", pk=pk)


class ResellerMoveView(SectionMixin, FormView):
    """Choose the new parent, see what moves, confirm: only then does anything change."""

    permission_required = "resellers.change_reseller"
    template_name = "resellers/reseller_move.html"
    form_class = ResellerMoveForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "reseller": self.reseller}

    def get_context_data(self, **kwargs):
        return super().get_context_data(reseller=self.reseller, **kwargs)

    def form_valid(self, form):
        new_parent = form.cleaned_data["parent"]
        errors = services.move_errors(
            actor=self.request.user, reseller=self.reseller, new_parent=new_parent
        )
        if errors:
            add_service_errors(form, ValidationError(errors))
            return self.form_invalid(form)
        if not form.cleaned_data["confirm"]:
            return render(
                self.request,
                "resellers/reseller_move_confirm.html",
                {
                    "reseller": self.reseller,
                    "new_parent": new_parent,
                    "summary": subtree_summary(self.reseller),
                },
            )
        try:
            moved = services.reseller_move(
                actor=self.request.user, reseller=self.reseller, new_parent=new_parent
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request,
            ngettext(
                "%(company)s moved under %(new_parent)s (%(count)s company).",
                "%(company)s moved under %(new_parent)s (%(count)s companies).",
                moved,
            )
            % {"company": self.reseller, "new_parent": new_parent, "count": number(moved)},
        )
        return redirect("resellers:reseller-detail", pk=self.reseller.pk)


class StaffUserListView(RightRequiredMixin, StaffRequiredMixin, ListView):
    permission_required = "resellers.view_user"
    template_name = "resellers/user_list.html"
    paginate_by = 50

    def get_queryset(self):
        return staff_users_visible_to(self.request.user)

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            can_add=user.has_perm("resellers.add_user"),
            can_change=user.has_perm("resellers.change_user"),
            **kwargs,
        )


class StaffUserCreateView(ServiceFormMixin, RightRequiredMixin, StaffRequiredMixin, FormView):
    permission_required = "resellers.add_user"
    template_name = "resellers/reseller_form.html"
    extra_context = {
        "title": gettext_lazy("Add a staff user"),
        "button": gettext_lazy("Add user"),
        "cancel_url": reverse_lazy("resellers:user-list"),
    }
    form_class = StaffUserForm

    def get_initial(self):
        reseller = self.request.GET.get("reseller", "")
        return {"reseller": int(reseller)} if reseller.isdigit() else {}

    def perform(self, data):
        user, password = services.staff_user_create(actor=self.request.user, **data)
        # The temporary password is shown on this response only; it is never stored in clear.
        response = render(
            self.request, "resellers/user_created.html", {"new_user": user, "password": password}
        )
        response["Cache-Control"] = "no-store"
        return response


class StaffUserActiveView(RightRequiredMixin, StaffRequiredMixin, View):
    """POST: deactivate or reactivate a staff user."""

    permission_required = "resellers.change_user"

    def post(self, request, pk):
        user = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
        active = request.POST.get("active") == "1"
        try:
            services.user_set_active(actor=request.user, user=user, active=active)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            text = (
                _("%(username)s can sign in again.")
                if active
                else _("%(username)s can no longer sign in.")
            )
            messages.success(request, text % {"username": user.username})
        return redirect(reverse("resellers:user-list"))


class StaffUserPasswordResetView(RightRequiredMixin, StaffRequiredMixin, View):
    """POST: a new temporary password, shown once on the answer."""

    permission_required = "resellers.change_user"

    def post(self, request, pk):
        user = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
        try:
            password = services.user_password_reset(actor=request.user, user=user)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return redirect(reverse("resellers:user-list"))
        response = render(
            request,
            "resellers/user_created.html",
            {"new_user": user, "password": password, "reset": True},
        )
        response["Cache-Control"] = "no-store"
        return response
