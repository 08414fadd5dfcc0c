from django.contrib.admin.apps import AdminConfig

from config import checks  # noqa: F401  (registers the deploy checks)


class OperatorAdminConfig(AdminConfig):
    """The Django admin with the operators' site (config/admin_site.py) as `admin.site`."""

    default_site = "config.admin_site.OperatorAdminSite"
