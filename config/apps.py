from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    """The Django admin with the operators' site (config/admin_site.py) as `admin.site`."""

    default_site = "config.admin_site.OperatorAdminSite"
