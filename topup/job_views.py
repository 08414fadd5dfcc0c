"""Resuming a background bulk job that a database outage stopped (POST from its page)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views import View

from resellers.mixins import StaffRequiredMixin

from . import services
from .selectors import bulk_jobs_visible_to


class BulkJobResumeView(StaffRequiredMixin, View):
    """Queue the job again from its cursor; only within the user's scope and with the right
    of the job's action (checked by `bulk_job_resume`)."""

    http_method_names = ["post"]

    def post(self, request, pk: int):
        job = get_object_or_404(bulk_jobs_visible_to(request.user), pk=pk)
        if services.bulk_job_resume(user=request.user, job=job):
            messages.success(request, "The action carries on where it stopped.")
        else:
            messages.info(request, "This action is not waiting to be resumed.")
        return redirect("topup:bulk-job-detail", pk=job.pk)
