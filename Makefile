VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install gettext messages messages-check demo test browser print-libs print-tools axe cluster-tools cluster-test lint format check bench clean screenshots

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

## install: the package and its dev tools, then the translation catalogs compiled (locale/*.mo
## are built here, never committed)
install: $(PY) gettext
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules --ignore=.axe >/dev/null

## gettext: Debian's GNU gettext (msgfmt, xgettext), which Django's makemessages and
## compilemessages run
gettext:
	@command -v msgfmt >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null; }

## messages: extract every marked string into locale/<ll>/LC_MESSAGES/django.po (bin/check_messages)
messages: install
	$(PY) bin/check_messages --update

## messages-check: fails when the catalogs are stale (a fresh extraction differs) or any language
## has an untranslated or fuzzy message; prints each language's counts
messages-check: install
	$(PY) bin/check_messages

## demo: install, then the demo on the embedded PostgreSQL (.pgdata/, unless DATABASE_URL is
## set), served with its task worker on :8000; Ctrl-C stops all of it (see bin/demo)
demo: install print-libs
	$(PY) bin/demo

## browser: Debian's Chromium for the end-to-end tests (no browser download)
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## print-libs: what card sheets and print-shop exports need from Debian (WeasyPrint's Pango,
## the DejaVu fonts the sheets use, gpg); nothing is fetched when a sheet is rendered
PRINT_DEBS := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core gnupg
print-libs:
	@dpkg -s $(PRINT_DEBS) >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PRINT_DEBS) >/dev/null; }

## print-tools: poppler-utils (pdftotext, pdftoppm) read the sheets back in tests and screenshots
print-tools: print-libs
	@command -v pdftotext >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; }

## axe: axe-core for the accessibility checks of the browser tests, from the npm registry into
## .axe/ (test-only; never served by the app)
AXE_JS := .axe/node_modules/axe-core/axe.min.js
$(AXE_JS):
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	npm install --silent --no-audit --no-fund --prefix .axe axe-core@4
axe: $(AXE_JS)

## test: the whole suite on PostgreSQL (see bin/test for how it finds one)
test: install browser print-tools axe
	bin/test

## cluster-tools: Debian's nginx and pgbouncer for the cluster test (deploy/); RUNLEVEL=1 keeps
## their packages from starting the system-wide services (the test starts its own on loopback)
CLUSTER_DEBS := nginx-light pgbouncer
cluster-tools:
	@command -v nginx >/dev/null 2>&1 && command -v pgbouncer >/dev/null 2>&1 || { apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CLUSTER_DEBS) >/dev/null; }

## cluster-test: PostgreSQL primary + streaming replica, PgBouncer, nginx, two gunicorn and two
## task workers on loopback ports, from the files in deploy/ (tests/cluster/test_cluster.py)
cluster-test: install cluster-tools
	CLUSTER_TEST=1 $(PY) -m pytest --noconftest -p no:django -p no:cacheprovider -q -W ignore::pytest.PytestConfigWarning \
	  tests/cluster/test_cluster.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: install lint messages-check
	PYTHON=$(PY) bin/with-postgres sh -c 'DEBUG=1 $(PY) manage.py check && \
	  DEBUG=1 $(PY) manage.py makemigrations --check --dry-run'
	SECRET_KEY=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  PIN_HMAC_KEY=hkdf:$$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))') \
	  PIN_ENCRYPTION_KEYS=1:hkdf:$$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))') \
	  WEBHOOKS_SECRET_KEYS=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))') \
	  ALLOWED_HOSTS=example.com \
	  DATABASE_URL=postgres://u@localhost/db $(PY) manage.py check --deploy --fail-level WARNING

bench: install print-libs
	PYTHON=$(PY) bin/with-postgres $(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pgdata staticfiles test-artifacts .axe

## screenshots: run the browser tests and keep their screenshots under docs/screenshots
screenshots: install browser print-tools axe
	E2E_SCREENSHOTS_DIR=docs/screenshots bin/test tests/e2e -q
