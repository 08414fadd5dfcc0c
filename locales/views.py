"""The user's own language and time zone: the header's switcher and the Preferences page."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_POST
from django.views.generic import FormView

from resellers.services import user_set_preferences

from .forms import LanguageForm, PreferencesForm
from .middleware import activate_for


@require_POST
def set_language(request):
    """Django's `set_language` (the language cookie, then back to `next`); a signed-in user's
    choice is also stored on the user, so it follows it to every device and sign-in."""
    response = i18n.set_language(request)
    form = LanguageForm(request.POST)
    if request.user.is_authenticated and form.is_valid():
        user_set_preferences(user=request.user, language=form.cleaned_data["language"])
    return response


class PreferencesView(LoginRequiredMixin, FormView):
    template_name = "locales/preferences.html"
    form_class = PreferencesForm
    success_url = reverse_lazy("preferences")

    def get_initial(self):
        return {"language": self.request.user.language, "time_zone": self.request.user.time_zone}

    def form_valid(self, form):
        user = self.request.user
        user_set_preferences(
            user=user,
            language=form.cleaned_data["language"],
            time_zone=form.cleaned_data["time_zone"],
        )
        activate_for(self.request, user.language, user.time_zone)
        messages.success(self.request, _("Your preferences have been saved."))
        return super().form_valid(form)
