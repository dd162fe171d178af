# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint docs bench soak audit clean

# constraints.txt pins every dependency to the versions the suite last passed with.
# Set-up says what it does in two lines. pip prints only errors (-qq: a failed install still
# stops make with pip's reason), and setuptools' "Editable installation" notice about folders
# named like the package, which is no problem here, is not shown.
PIP_INSTALL := $(BIN)/python -m pip install -qq --disable-pip-version-check
$(STAMP): pyproject.toml constraints.txt
	@echo "Setting up $(VENV): Python packages for digest and its tests (first run only, a minute or two)..."
	@$(PYTHON) -m venv $(VENV)
	@$(PIP_INSTALL) --upgrade pip
	@# The distribution was called `digest` before it became digest-newsletter: drop that old install.
	@$(BIN)/python -m pip uninstall -qq -y digest 2>/dev/null || true
	@PYTHONWARNINGS="ignore:Editable installation" $(PIP_INSTALL) -c constraints.txt -e '.[test,docs]'
	@touch $(STAMP)
	@echo "Ready: $(BIN)/digest"

demo: $(STAMP)
	$(BIN)/digest build
	$(BIN)/digest send --list subscribers/example.csv
	@latest=$$(ls -1 issues | sort -n | tail -1); \
	echo ""; \
	echo "HTML version:        issues/$$latest/issue.html   (open it in a browser)"; \
	echo "Text version:        issues/$$latest/issue.txt"; \
	echo "As a reader gets it: issues/$$latest/preview.eml"; \
	echo "Edit the issue:      issues/$$latest/plan.toml   (then: $(BIN)/digest build)"; \
	echo "Delivered messages:  outbox/new/   (a Maildir: one file per message)"; \
	echo "Send journal:        $(BIN)/digest status"

# The suite runs on TEST_WORKERS processes (pytest-xdist; 0 runs it in this one). On a 2-core
# machine 4 is the fastest (bench/suite_time.py): many tests wait on real servers and
# subprocesses, not on the CPU.
TEST_WORKERS ?= 4
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check digest digest_entry.py tests bench
	$(BIN)/mypy
	$(BIN)/bandit -q -r digest digest_entry.py 2>/dev/null  # findings print on stdout; its noisy warnings go to stderr

# The documentation site (mkdocs.yml, docs/) in strict mode: a broken link or anchor, or a page
# missing from the nav, fails the build. The site goes to site/ (not committed).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

bench: $(STAMP)
	@[ -x bench/node_modules/.bin/mjml ] || ! command -v npm >/dev/null || \
		npm install --silent --no-audit --no-fund --prefix bench mjml >/dev/null 2>&1 || true
	$(BIN)/python bench/report.py $(if $(READABILITY),--readability $(READABILITY))

# Known vulnerabilities in the pinned set. Needs PyPI's JSON API or OSV, which this
# project's CI machines cannot reach; run it where they are reachable.
audit: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-audit
	$(BIN)/pip-audit -r constraints.txt

soak: $(STAMP)
	SOAK_RECIPIENTS=10000 SOAK_KILL_ROUNDS=20 $(BIN)/python -m pytest -q -s tests/soak

clean:
	rm -rf $(VENV) issues outbox .digest site .pytest_cache .mypy_cache .ruff_cache
