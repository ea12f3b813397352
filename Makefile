# Aftersales Desk: `make run` starts the portal, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: WeasyPrint's Pango and real fonts for CJK, Thai, Cyrillic and Latin text.
RUN_PACKAGES  := libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-core fonts-noto-cjk fonts-thai-tlwg fonts-dejavu-core
# The test suite also drives a real Chromium and starts throwaway PostgreSQL clusters.
TEST_PACKAGES := chromium postgresql
# npm fetches the test suite's JavaScript (axe-core, pinned in package-lock.json) when node_modules is missing.
NODE_PACKAGES := nodejs npm

PO_FILES := $(wildcard portal/translations/*/LC_MESSAGES/*.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: run run-marketplace demo-stream test install install-test system-packages test-system-packages lint typecheck constraints translations-extract bench clean

run: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi demo seed
	$(BIN)/flask --app wsgi serve

# The marketplace demo: `make run-marketplace` in one terminal, then `make demo-stream` in another. The
# portal and the local TikTok Shop simulator share a demo app key and secret; the simulator listens on 5081.
MARKETPLACE_DEMO := TIKTOK_SHOP_APP_KEY=demo-app-key TIKTOK_SHOP_APP_SECRET=demo-app-secret \
	TIKTOK_SHOP_API_URL=http://127.0.0.1:5081 MARKETPLACE_SYNC_SECONDS=60

run-marketplace: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi demo seed
	env $(MARKETPLACE_DEMO) $(BIN)/flask --app wsgi serve

demo-stream: install
	env $(MARKETPLACE_DEMO) $(BIN)/flask --app wsgi demo stream

# Lint and the type check first: CI runs `make test`, exactly as a new developer would.
test: install-test lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadfile

install: system-packages $(VENV)/.installed $(MO_FILES)

install-test: install test-system-packages $(VENV)/.installed-test node_modules/.package-lock.json

system-packages:
	@$(call apt_ensure,$(RUN_PACKAGES))

test-system-packages:
	@$(call apt_ensure,$(TEST_PACKAGES))

# Debian's own Python keeps venv in a separate package; install it when the first try fails.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); $(call apt_ensure,python3-venv); $(PYTHON) -m venv $(VENV); }

# Every install is held to the versions in constraints.txt (a pip freeze of a working venv), so a fresh
# machine gets what the tests last passed with; `make constraints` refreshes it after a dependency change.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	@if ! command -v npm >/dev/null; then $(call apt_ensure,$(NODE_PACKAGES)); fi
	npm ci --no-audit --no-fund --ignore-scripts

constraints: $(VENV)/.installed-test
	{ echo "# The versions every install is held to (make constraints writes it from a working venv)."; \
	  $(BIN)/python -m pip freeze --exclude-editable --all | grep -v -i -E '^(pip|setuptools|wheel)=='; } > constraints.txt

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

translations-extract: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o portal/translations/messages.pot portal
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations -l zh --no-fuzzy-matching
	$(BIN)/pybabel extract -F babel.cfg -k buyer_text -k _buyer_text --no-default-keywords -o portal/translations/buyer.pot portal
	for lang in de ms zh; do $(BIN)/pybabel update -D buyer -i portal/translations/buyer.pot -d portal/translations -l $$lang --no-fuzzy-matching; done

lint: install-test
	$(BIN)/ruff check portal rules tests migrations benchmarks gunicorn.conf.py

typecheck: install-test
	$(BIN)/mypy

bench: install-test
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	for bench in benchmarks/*_bench.py; do $(BIN)/python $$bench || exit 1; done

clean:
	rm -rf $(VENV) $(MO_FILES)

# Install the Debian packages in $(1) that are not installed yet.
define apt_ensure
missing=""; for p in $(1); do \
  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
  echo "Installing Debian packages:$$missing"; \
  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
fi
endef
