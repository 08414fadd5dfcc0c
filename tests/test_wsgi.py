"""The WSGI application gunicorn serves: the API's shorter middleware chain and the panel's."""

import io
import sys

import pytest

from config.wsgi import application

# Real requests: the handler closes the connection when each ends, as under gunicorn.
pytestmark = pytest.mark.django_db(transaction=True)


def call(path: str, host: str = "127.0.0.1", language: str = "en"):
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": host,
        "HTTP_ACCEPT_LANGUAGE": language,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }
    answered = {}

    def start_response(status, headers, exc_info=None):
        answered["status"] = int(status.split()[0])
        answered["headers"] = headers

    b"".join(application(environ, start_response))
    names = [name.lower() for name, _ in answered["headers"]]
    return answered["status"], dict((n.lower(), v) for n, v in answered["headers"]), names


def test_the_api_is_served_without_sessions_but_with_every_security_header():
    status, headers, names = call("/api/v1/openapi.json")
    assert status == 200
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in names  # no session, no CSRF cookie
    # Nothing varies by cookie; the `detail` texts follow the caller's Accept-Language.
    assert headers["vary"] == "Accept-Language"


def test_the_api_answers_in_the_callers_language():
    status, headers, _ = call("/api/v1/openapi.json", language="es")
    assert status == 200 and headers["content-language"] == "es"


def test_the_api_checks_the_host_like_every_page():
    status, _, _ = call("/api/v1/openapi.json", host="evil.example")
    assert status == 400


def test_the_panel_keeps_its_whole_chain():
    status, headers, names = call("/login/")
    assert status == 200
    assert "set-cookie" in names  # the CSRF cookie of the sign-in form
    assert headers["content-security-policy"].startswith("default-src 'self'")
