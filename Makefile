# Two commands on a fresh machine with python3 and make: `make demo`, `make test`.
# Each bootstraps a pinned uv into .tools/, then syncs .venv from the committed uv.lock.
# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI) every import
# would otherwise recompile from source (measured: pandas 2.1 s -> 0.5 s, sklearn 6.1 s -> 1.9 s).
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
SYNCED := $(VENV)/.synced-$(UV_VERSION)-bytecode

export UV_PROJECT_ENVIRONMENT := $(VENV)
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup demo test bench server serve clean postgres browser mutation breakages

setup: $(SYNCED)

$(UV):
	@echo "bootstrapping uv $(UV_VERSION) into $(TOOLS)/"
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: labelguard needs Python 3.11+ (fix: install it or run make PYTHON=python3.11)"; exit 2; }
	@$(PYTHON) -m venv $(TOOLS) || { echo "error: python3 -m venv failed (fix: install your distribution's python3-venv package)"; exit 2; }
	@$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): $(UV) pyproject.toml uv.lock
	@$(UV) sync --locked --quiet --compile-bytecode --python $(PYTHON)
	@rm -f $(VENV)/.synced-* && touch $@

demo: $(SYNCED)
	@$(VENV)/bin/labelguard demo

# A local Prefect server for this folder (database under .labelguard/); flow commands reuse it.
server: $(SYNCED)
	@$(VENV)/bin/labelguard server

# Scheduled drift checks of a partitioned dataset: this project's Prefect server (reused when it
# runs; SQLite under .labelguard/, analytics off) and the drift flow served on CRON.
#   make serve URI=reports/simulate-0/store CRON="0 6 * * *"
CRON ?= 0 6 * * *
serve: $(SYNCED)
	@if [ -z "$(URI)" ]; then echo "error: no URI (fix: make serve URI=DATASET [CRON='0 6 * * *']; labelguard simulate --out DIR makes one at DIR/store)"; exit 2; fi
	@mkdir -p .labelguard; api=$$($(VENV)/bin/python -c "from labelguard.server import recorded_server; print(recorded_server() or '')"); pid=; \
	if [ -z "$$api" ]; then \
	  echo "starting this project's Prefect server (log: .labelguard/server.log)"; \
	  $(VENV)/bin/labelguard server > .labelguard/serve.out 2>&1 & pid=$$!; trap 'kill $$pid 2>/dev/null; wait $$pid' EXIT INT TERM; \
	  for i in $$(seq 600); do grep -q "Prefect server for this project" .labelguard/serve.out 2>/dev/null && break; kill -0 $$pid 2>/dev/null || { cat .labelguard/serve.out; exit 2; }; sleep 0.5; done; \
	  api=$$($(VENV)/bin/python -c "from labelguard.server import recorded_server; print(recorded_server() or '')"); \
	fi; \
	[ -n "$$api" ] || { echo "error: the Prefect server did not come up (fix: see .labelguard/server.log)"; exit 2; }; \
	echo "Prefect UI: $${api%/api}  (API: $$api)"; \
	PREFECT_API_URL=$$api $(VENV)/bin/labelguard watch "$(URI)" --cron "$(CRON)" --name drift

# Two pytest-xdist workers, a test file each at a time (a file's module fixtures stay in one process): on 2 cores the
# suite's many subprocesses and servers leave a core idle half the time (measured 1.8x faster; bench/RESULTS.md).
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: $(SYNCED) postgres browser
	@$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

# The database tests need a real PostgreSQL server: install it from the system packages when no
# initdb is found (as root, as on CI); the tests start their own throwaway cluster on loopback.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing PostgreSQL from the Debian packages (apt-get)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; } >/dev/null \
	      || { echo "error: could not install PostgreSQL (fix: apt-get install postgresql, then rerun make test)"; exit 2; }; \
	  else \
	    echo "note: PostgreSQL is not installed and this is not root: the database tests will skip, saying so (fix: sudo apt-get install postgresql)"; \
	  fi; }
# The drill report's browser test drives a real headless Chromium: install Debian's chromium and
# chromium-driver when missing (as root, as on CI); otherwise the test skips saying why (fails with CI=true).
browser:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium and chromium-driver from the Debian packages (apt-get)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; } >/dev/null \
	      || { echo "error: could not install chromium (fix: apt-get install chromium chromium-driver, then rerun make test)"; exit 2; }; \
	  else \
	    echo "note: chromium is not installed and this is not root: the browser test will skip, saying so (fix: sudo apt-get install chromium chromium-driver)"; \
	  fi; }
# Mutation testing of the verdict modules (mutmut 3; not part of `make test`: about 10-25 min per
# module on 2 shared cores, storage's S3 tests over 2 h). MODULES="ledger tamper" runs a subset; results in bench/results/mutation.md.
mutation: $(SYNCED)
	@$(VENV)/bin/python bench/mutation.py $(MODULES)

# Issue 13's named breakages made for real in a staged copy; each must fail a test (bench/results/breakages.md).
breakages: $(SYNCED)
	@$(VENV)/bin/python bench/breakages.py $(BREAKAGES)

# Every benchmark with the arguments bench/RESULTS.md quotes (about 10 minutes on 2 cores).
bench: $(SYNCED) postgres
	@$(VENV)/bin/python bench/calibrate.py --seeds 200 --rows 4000
	@$(VENV)/bin/python bench/calibrate.py --seeds 50 --rows 1000 --out bench/results/calibration_1000.md
	@$(VENV)/bin/python bench/calibrate.py --seeds 50 --rows 20000 --out bench/results/calibration_20000.md
	@$(VENV)/bin/python bench/detection.py --seeds 5
	@$(VENV)/bin/python bench/perf_verify.py --rows 10000000 --repeat 3
	@$(VENV)/bin/python bench/perf_content.py --rows 1000000
	@$(VENV)/bin/python bench/attack_damage.py --seeds 3
	@$(VENV)/bin/python bench/perf_cli.py --repeat 3
	@$(VENV)/bin/python bench/perf_lake.py --rows 1000000 --parts 20 --repeat 2
	@$(VENV)/bin/python bench/perf_postgres.py --rows 1000000 --repeat 3
	@$(VENV)/bin/python bench/drift.py --seeds 100-119

clean:
	rm -rf $(TOOLS) $(VENV) reports .pytest_cache
