# The two commands of the README: `make demo` and `make test`. Both set themselves up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test test-sqlite test-postgres lint typecheck serve bench clean imap imap-stop

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Set up, then try the whole follow-up loop in a terminal on SQLite with a realistic sample.
demo: $(BIN)/.installed
	$(BIN)/npsbot shell --demo

# Set up, lint, then run the whole suite on SQLite and again on PostgreSQL when one answers.
test: $(BIN)/.installed lint test-sqlite test-postgres

# ruff, then mypy (pydantic plugin and scripts/mypy_sqlmodel.py; config in pyproject.toml [tool.mypy]).
lint: $(BIN)/.installed typecheck
	$(BIN)/ruff check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

test-sqlite: $(BIN)/.installed
	@echo "== npsbot test suite on SQLite =="
	$(BIN)/python -m pytest -q

test-postgres: $(BIN)/.installed
	@echo "== npsbot test suite on PostgreSQL (127.0.0.1:5432, database test) =="
	@if $(BIN)/python -c "import psycopg; psycopg.connect('host=127.0.0.1 port=5432 dbname=test', connect_timeout=3).close()" 2>/dev/null; then \
		NPSBOT_TEST_DB=postgres $(BIN)/python -m pytest -q; \
	else \
		echo "SKIPPED the PostgreSQL run of the suite: nothing answers at 127.0.0.1:5432 (database test)."; \
	fi

serve: $(BIN)/.installed
	$(BIN)/npsbot serve

bench: $(BIN)/.installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache npsbot-demo.db*

# A throwaway Dovecot IMAP server on 127.0.0.1:14300 (user/password npsbot/npsbot, INBOX) for
# trying NPSBOT_IMAP_URL=imap://npsbot:npsbot@127.0.0.1:14300/INBOX; the suite starts its own.
IMAP_DIR ?= /tmp/npsbot-dovecot
IMAP_PORT ?= 14300
imap:
	@command -v dovecot >/dev/null || /usr/sbin/dovecot --version >/dev/null 2>&1 || \
		{ echo "Install Debian's dovecot-imapd first: apt-get install -y dovecot-imapd"; exit 2; }
	mkdir -p $(IMAP_DIR) && chmod 755 $(IMAP_DIR)
	bash scripts/dovecot-test.sh start $(IMAP_DIR)/server $(IMAP_PORT)

imap-stop:
	bash scripts/dovecot-test.sh stop $(IMAP_DIR)/server
