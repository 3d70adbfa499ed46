# CareDesk — the README's commands.  `make run` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint screenshots samples bench catalogs bundle clean

install: $(STAMP)

# Re-install whenever the dependency list changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "CareDesk needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## Start CareDesk on the demo clinic (created on first run).
run: install
	$(PY) -m app --demo

## Install everything and run the whole test suite.  Two workers, each test file on one
## worker (`--dist loadfile`): a file's module-scoped seeded clinic is made once, and the
## files with the most tests are handed out first so no long one is left for the end.
test: install
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -n 2 --dist loadfile

lint: install
	$(VENV)/bin/ruff check app tests bench installers
	$(VENV)/bin/ruff format --check app tests bench installers

## PNGs of the main windows with demo data, for the README.
screenshots: install
	QT_QPA_PLATFORM=offscreen $(PY) -m app.ui.screenshots docs/screenshots

## Bring new printed-document strings into the Spanish catalog, drop unused ones; then fill in
## the empty msgstr lines of resources/locale/es/LC_MESSAGES/caredesk.po (the tests list them).
## The en_GB catalog (British spelling of the few words that differ) is kept by hand.
## Both are read from their .po files when first needed: nothing is compiled at install time.
catalogs: install
	@mkdir -p build
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k N_ --add-location=file --sort-by-file \
	    --no-wrap --project=CareDesk --copyright-holder=CareDesk -o build/caredesk.pot app
	$(VENV)/bin/pybabel -q update -i build/caredesk.pot -d resources/locale -D caredesk \
	    -l es --no-wrap --ignore-obsolete --ignore-pot-creation-date

## Page 1 of every printed document, in English and Spanish, as PNGs (needs pdftoppm).
samples: install
	$(PY) -m app.document_samples docs/screenshots/documents

bench: install
	$(PY) -m bench all

## One-folder bundle for this OS: dist/caredesk/ (+ dist/CareDesk-<version>-linux-x86_64.tar.gz
## on Linux), checked with the bundled program's own --self-test.  See installers/README.md.
bundle: install
	PY=$(PY) bash installers/build.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
