# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml
STAMP  := $(VENV)/.installed
# Tests and benchmarks talk only to loopback servers; a proxy would intercept them.
LOOPBACK := env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u ALL_PROXY -u all_proxy

.PHONY: run test lint unit e2e bench check-config clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,otel,sentry]'
	touch $(STAMP)

run: $(STAMP) ## Run the bot (needs SLACK_BOT_TOKEN, SLACK_APP_TOKEN and a config file)
	$(BIN)/opsbot run --config $(CONFIG)

check-config: $(STAMP)
	$(BIN)/opsbot check-config --config $(CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check opsbot tests bench scripts
	$(BIN)/mypy

# kubectl with kustomize v5 for the manifest render tests (they skip without one).
$(BIN)/kubectl: | $(STAMP)
	$(BIN)/python scripts/fetch_kubectl.py $@

test: lint $(BIN)/kubectl ## Lint, type-check and run the whole test suite
	$(LOOPBACK) $(BIN)/pytest -q

bench: $(STAMP) ## Print the performance figures (several minutes)
	$(LOOPBACK) $(BIN)/python -m bench.command_latency
	$(LOOPBACK) $(BIN)/python -m bench.watch_throughput
	$(LOOPBACK) $(BIN)/python -m bench.alert_latency
	$(LOOPBACK) $(BIN)/python -m bench.alert_storm
	$(LOOPBACK) $(BIN)/python -m bench.telemetry_overhead

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
