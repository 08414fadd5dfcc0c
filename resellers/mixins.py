"""View mixins every app's pages share: who may open a page, and forms that call a service."""

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError

from .scoping import is_staff_member


class RightRequiredMixin(PermissionRequiredMixin):
    """403 for a signed-in user without the right; the login page for anyone not signed in."""

    def handle_no_permission(self):
        if not self.request.user.is_authenticated:
            return redirect_to_login(self.request.get_full_path())
        raise PermissionDenied


class StaffRequiredMixin(LoginRequiredMixin):
    """Pages for operators and reseller users; customers get 403."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not is_staff_member(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def add_service_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: by field where it names one of the form's."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class ServiceFormMixin:
    """A form view that hands its cleaned data to one service (`perform`).

    The form is built for the signed-in user; a ValidationError from the service lands on the
    form (by field where it names one) and nothing has changed.
    """

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        try:
            return self.perform(form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)

    def secret_page(self, template: str, context: dict):
        """The page that shows a new secret (an API token, a signing secret) this once: kept in
        no cache and not in the browser's history of pages."""
        response = self.response_class(request=self.request, template=[template], context=context)
        response["Cache-Control"] = "no-store"
        return response
