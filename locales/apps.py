from django.apps import AppConfig


class LocalesConfig(AppConfig):
    name = "locales"
    verbose_name = "Languages, time zones and locale formats"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from .middleware import apply_at_sign_in

        user_logged_in.connect(apply_at_sign_in, dispatch_uid="locales.apply_at_sign_in")
