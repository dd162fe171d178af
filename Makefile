# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/digest build
	$(BIN)/digest send --list subscribers/example.csv
	@latest=$$(ls -1 issues | sort -n | tail -1); \
	echo ""; \
	echo "HTML version:        issues/$$latest/issue.html   (open it in a browser)"; \
	echo "Text version:        issues/$$latest/issue.txt"; \
	echo "As a reader gets it: issues/$$latest/preview.eml"; \
	echo "Delivered messages:  outbox/new/   (a Maildir: one file per message)"; \
	echo "Send journal:        $(BIN)/digest status"

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check digest tests bench
	$(BIN)/mypy
	$(BIN)/bandit -q -r digest 2>/dev/null  # findings print on stdout; its noisy warnings go to stderr

bench: $(STAMP)
	@[ -x bench/node_modules/.bin/mjml ] || ! command -v npm >/dev/null || \
		npm install --silent --no-audit --no-fund --prefix bench mjml >/dev/null 2>&1 || true
	$(BIN)/python bench/report.py

soak: $(STAMP)
	SOAK_RECIPIENTS=10000 SOAK_KILL_ROUNDS=20 $(BIN)/python -m pytest -q -s tests/soak

clean:
	rm -rf $(VENV) issues outbox .digest .pytest_cache .mypy_cache .ruff_cache
