"""Property: every word a person reads on any page, as any role, went through translation.

A pseudo-language ("xx") is built at test time from the messages the code marks today (a fresh
extraction, bin/check_messages) and from those of Django and the installed apps: each
translation is the message wrapped in markers, "[!" + msgid + "!]", placeholders intact, plural
forms too. It is compiled with babel into a temporary LOCALE_PATHS entry and chosen with the
language cookie. Every page from the URL resolver is then opened (GET) as each role of the
hostile-input walk (tests/test_hostile_everywhere.py: its routes, roles and world), along with
the error pages; every visible text (text nodes, and the title, alt, placeholder and aria-label
a person reads; not scripts, styles or hidden inputs) must sit inside markers, unless it is data:
the world's own names, serials, figures, dates, zone and currency codes, languages' own names.
"""

import importlib.machinery
import importlib.util
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from django.apps import apps
from django.conf import settings
from django.conf.locale import LANG_INFO
from django.db import models, transaction
from django.template.loader import render_to_string
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import translation
from django.views import defaults

from locales.zones import zone_names
from tests import factories
from tests.test_hostile_everywhere import ROLES, ROUTES, _build_world, _client
from topup.models import Card

PSEUDO = "xx"
OPEN, CLOSE = "[!", "!]"
ROOT = Path(__file__).resolve().parent.parent.parent
_loader = importlib.machinery.SourceFileLoader("check_messages", str(ROOT / "bin/check_messages"))
check_messages = importlib.util.module_from_spec(
    importlib.util.spec_from_loader("check_messages", _loader)
)
_loader.exec_module(check_messages)

MARKED = re.compile(r"\[!((?:(?!\[!|!\]).)*)!\]", re.DOTALL)  # innermost first
# Data that is no sentence: dates and times as babel writes them in English (the pseudo
# language has no CLDR data), zone names, ISO codes (currencies), tokens holding a digit
# (serials, ids, amounts, key prefixes), and e-mail addresses.
DATA = [
    re.compile(r"\b[A-Z2-7]{4}( [A-Z2-7]{4})+\b"),  # an authenticator's key, in groups
    re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b"),
    re.compile(r"\b[AP]M\b"),
    re.compile(r"\b[A-Z][A-Za-z_+-]*(/[A-Za-z0-9_+-]+)+\b"),  # America/Bogota
    re.compile(r"\b(UTC|GMT)\b"),
    re.compile(r"\b[A-Z]{3}\b"),
    re.compile(r"\S*\d\S*"),
    re.compile(r"\S+@\S+"),
    re.compile(r"\b[a-z_]+\.[a-z_]+\b"),  # rights' codes: billing.change_account
]
LETTER = re.compile(r"[^\W\d_]")
NODE = "\x1f"  # between two text nodes of the stream
READ_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")
PROJECT_APPS = {"resellers", "billing", "topup", "api", "webhooks", "wallets"}
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                 "source", "track", "wbr"}  # fmt: skip
ERROR_TEMPLATES = ["400.html", "403.html", "403_csrf.html", "404.html", "429.html", "503.html"]


# --- The pseudo catalog ------------------------------------------------------------------------
def _third_party_messages() -> dict:
    """(context, msgid) -> msgid_plural of Django's and the installed apps' own catalogs (the
    text Django itself emits: form errors, widgets' labels, django-filter's choices)."""
    found = {}
    folders = [Path(translation.__file__).parent.parent.parent / "conf" / "locale"]
    folders += [Path(config.path) / "locale" for config in apps.get_app_configs()]
    for folder in folders:
        compiled = folder / "es" / "LC_MESSAGES" / "django.mo"
        if not compiled.exists() or ROOT / "locale" in compiled.parents:
            continue
        with compiled.open("rb") as handle:
            for message in read_mo(handle):
                if message.id:
                    ids = message.id if isinstance(message.id, list | tuple) else [message.id, None]
                    found[(message.context, ids[0])] = ids[1]
    return found


def _wrap(text: str) -> str:
    return f"{OPEN}{text}{CLOSE}"


@pytest.fixture(scope="module")
def pseudo_locale(tmp_path_factory):
    """The pseudo language, compiled, chosen by its cookie for the module's requests."""
    messages = {**_third_party_messages(), **check_messages.fresh_messages()}
    catalog = Catalog(locale="en", domain="django")  # English plural forms: n != 1
    for (context, msgid), plural in messages.items():
        if plural is None:
            catalog.add(msgid, _wrap(msgid), context=context)
        else:
            catalog.add((msgid, plural), (_wrap(msgid), _wrap(plural)), context=context)
    folder = tmp_path_factory.mktemp("pseudo-locale")
    (folder / PSEUDO / "LC_MESSAGES").mkdir(parents=True)
    with (folder / PSEUDO / "LC_MESSAGES" / "django.mo").open("wb") as handle:
        write_mo(handle, catalog)
    LANG_INFO[PSEUDO] = {"bidi": False, "code": PSEUDO, "name": "Pseudo", "name_local": "Pseudo"}
    changed = override_settings(
        LOCALE_PATHS=[folder, *settings.LOCALE_PATHS],
        LANGUAGES=[*settings.LANGUAGES, (PSEUDO, "Pseudo")],
    )
    changed.enable()
    try:
        yield messages
    finally:
        changed.disable()
        del LANG_INFO[PSEUDO]


# --- Visible text ------------------------------------------------------------------------------
class VisibleText(HTMLParser):
    """The texts a person reads on a page."""

    SKIPPED = {"script", "style", "textarea", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []  # the attributes a person reads, each whole
        self.nodes: list[str] = []  # the text nodes, in order
        self.skipping = 0
        # Elements marked translate="no" hold stored data shown as it is (the audit log's
        # details): their text is not the catalog's; a stack, so the mark ends with its element.
        self.open: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.SKIPPED:
            self.skipping += 1
        if tag not in VOID_ELEMENTS:
            self.open.append((tag, attrs.get("translate") == "no"))
        for name in READ_ATTRIBUTES:
            if attrs.get(name):
                self.texts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button", "reset"):
            self.texts.append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1
        if any(name == tag for name, _ in self.open):
            while self.open and self.open.pop()[0] != tag:
                pass

    def handle_data(self, data):
        if not self.skipping and not any(no for _, no in self.open) and data.strip():
            self.nodes.append(data)


def _unmarked_part(text: str) -> str:
    """What is left of a text once its marked messages (innermost first: a message may hold
    another) are taken out."""
    while True:  # the node separators inside a message stay, so the nodes keep their places
        stripped = MARKED.sub(lambda m: " " + NODE * m.group(0).count(NODE), text)
        if stripped == text:
            return text
        text = stripped


def unmarked(html: str, data_words: re.Pattern) -> list[str]:
    """The texts of a page that are neither inside markers nor data.

    The text nodes are read as one stream: a message may hold markup
    (`{% blocktranslate %}Balance: <strong>{{ balance }}</strong>{% endblocktranslate %}`), so
    its markers open in one node and close in another.
    """
    parser = VisibleText()
    parser.feed(html)
    texts = parser.nodes + parser.texts
    rests = _unmarked_part(NODE.join(parser.nodes)).split(NODE) if parser.nodes else []
    rests += [_unmarked_part(text) for text in parser.texts]
    found = []
    for text, rest in zip(texts, rests, strict=True):
        rest = data_words.sub(" ", rest)
        for pattern in DATA:
            rest = pattern.sub(" ", rest)
        if LETTER.search(rest):
            found.append(" ".join(text.split()))
    return found


def words_pattern(words) -> re.Pattern:
    """Any of `words` as a whole word, the longest first."""
    ordered = sorted({w for w in words if w.strip()}, key=len, reverse=True)
    alternatives = "|".join(map(re.escape, ordered))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _data_words() -> re.Pattern:
    """Every text the world's rows hold (names, codes, labels), the languages' own names and
    the time zones' names."""
    words = {info["name_local"] for code, info in LANG_INFO.items() if "name_local" in info}
    words.update(zone_names())
    words.update(Locale.parse("en").currencies.values())  # CLDR's names; pseudo has none
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.EmailField)
            and not f.choices
        ]
        for row in model.objects.values_list(*fields) if fields else []:
            words.update(value for value in row if isinstance(value, str) and len(value) > 1)
    return words_pattern(words)


# --- The walk ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, _migrated_groups):
    """The hostile walk's world (tests/test_hostile_everywhere.py), rolled back at the end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            factories.restore_groups(_migrated_groups)
            world = _build_world()
            world["card"] = Card.objects.filter(series_id=world["series"]).first().pk
            world["data"] = _data_words()
            yield world
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _pages(world, role, client):
    """(url, response) of every named page, with the first id of the world its parameters
    accept (series, card, account, reseller, user), and the 404 page."""
    candidates = [world["series"], world["card"], *world["ids"]]
    for name, (_view, params) in sorted(ROUTES.items()):
        response = url = None
        for pk in candidates[: 6 if params else 1]:
            url = reverse(name, kwargs={p: pk for p in params})
            response = client.get(url)
            if response.status_code == 200:
                break
        yield url, response
    yield "/no-such-page/", client.get("/no-such-page/")


def _is_page(response) -> bool:
    """An HTML document (not a file, and not a bare status text such as the API framework's
    "Method not allowed", which a program reads by its status code)."""
    if response.streaming or "text/html" not in response.get("Content-Type", ""):
        return False
    return b"<html" in response.content[:400].lower()


def _report(found: dict) -> str:
    lines = [f"{len(found)} texts are not marked for translation (text: where):"]
    for text, where in sorted(found.items(), key=lambda item: (-len(item[1]), item[0])):
        pages = sorted(where)
        more = f" and {len(pages) - 3} more" if len(pages) > 3 else ""
        lines.append(f"  {text!r}: {', '.join(pages[:3])}{more}")
    return "\n".join(lines)


@pytest.mark.django_db
def test_every_page_as_every_role_speaks_only_the_catalog(pseudo_locale, world):
    found: dict[str, set[str]] = defaultdict(set)
    statuses = set()
    for role in ROLES:
        client = _client(world, role)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = PSEUDO
        for url, response in _pages(world, role, client):
            statuses.add(response.status_code)
            if not _is_page(response):
                continue
            for text in unmarked(response.content.decode(), world["data"]):
                found[text].add(f"{url} ({role})")
    assert {200, 403, 404} <= statuses  # the walk met the error pages too
    assert not found, _report(found)


@pytest.mark.django_db
def test_the_error_pages_speak_only_the_catalog(pseudo_locale, world):
    found: dict[str, set[str]] = defaultdict(set)
    request = RequestFactory().get("/cards/")
    with translation.override(PSEUDO):
        pages = {
            name: render_to_string(name, {"retry_after_minutes": 3}) for name in ERROR_TEMPLATES
        }
        pages["500"] = defaults.server_error(request).content.decode()
    forbidden = Client(enforce_csrf_checks=True)
    forbidden.cookies[settings.LANGUAGE_COOKIE_NAME] = PSEUDO
    pages["CSRF failure"] = forbidden.post(reverse("login")).content.decode()
    pages["400 (bad host)"] = forbidden.get("/", HTTP_HOST="not-ours.example").content.decode()
    for name, html in pages.items():
        for text in unmarked(html, world["data"]):
            found[text].add(name)
    assert not found, _report(found)


def test_the_checker_tells_marked_from_unmarked_text():
    """Guards the guard."""
    page = (
        "<html><head><title>[!Cards!]</title><script>var x = 'Hello';</script></head><body>"
        '<p>[!Hello [!Root!] there!]</p><p title="Tip">101-00000001</p><p>Bob · 5.00 USD</p>'
        "<p>[!Cards!] found</p><p>Dec 6, 2026, 1:00:00 PM (America/Bogota)</p><p>IJL4 2CZ6 KBXP</p>"
        '<input type="hidden" value="secret"><input type="submit" value="Go"></body></html>'
    )
    assert unmarked(page, words_pattern({"Bob", "op"})) == ["[!Cards!] found", "Tip", "Go"]
    split = "<p>[!Balance: <strong>5.00 USD</strong> of <em>Bob</em>!]</p><p>Left out</p>"
    assert unmarked(split, words_pattern({"Bob"})) == ["Left out"]
    data = '<td translate="no">note: cash<br><b>kind</b></td><td>Shown</td><p>After</p>'
    assert unmarked(data, words_pattern({"Bob"})) == ["Shown", "After"]


def test_the_pseudo_catalog_wraps_plurals_and_keeps_placeholders(pseudo_locale):
    with translation.override(PSEUDO):
        assert translation.gettext("English") == "[!English!]"
        two = translation.ngettext("%(size)d byte", "%(size)d bytes", 2) % {"size": 2}
        assert two == "[!2 bytes!]"  # Django's own message, its plural, its placeholder
        assert translation.get_language_bidi() is False
