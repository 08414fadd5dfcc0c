from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from .scoping import is_staff_member


@login_required
def home(request):
    """Send each role to its first page."""
    if is_staff_member(request.user):
        return redirect("topup:dashboard")
    return redirect("billing:balance")
