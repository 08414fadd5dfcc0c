"""The signed-in user's own language and time zone, on every page.

`LocaleMiddleware` (before this one) picks the language of the language cookie or of the
browser's Accept-Language, which is all an anonymous page has. Once the user is known this
middleware activates the language stored on the user (resellers.User.language) and its time
zone (User.time_zone, else the site's TIME_ZONE), and keeps the language cookie in step so the
sign-in page after a log-out speaks the same language.
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone, translation


def _preferences(request) -> tuple[str, str]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return "", ""
    return getattr(user, "language", ""), getattr(user, "time_zone", "")


def activate_for(request, language: str, zone: str) -> None:
    """Make `language` (if any) and `zone` (else the site's) the request's own."""
    if language and translation.check_for_language(language):
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
    if zone:
        timezone.activate(ZoneInfo(zone))
    else:
        timezone.deactivate()


class UserLocaleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        activate_for(request, *_preferences(request))
        response = self.get_response(request)
        if not response.streaming:  # a streamed file is written after this returns
            timezone.deactivate()
        # The user may have signed in (or chosen a language) during the request.
        language, _zone = _preferences(request)
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


def apply_at_sign_in(sender, request, user, **kwargs):
    """At sign-in, the user's stored language and zone serve the rest of that request (the
    middleware sets the language cookie on its response)."""
    if request is not None:
        activate_for(request, getattr(user, "language", ""), getattr(user, "time_zone", ""))
