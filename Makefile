# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml
STAMP  := $(VENV)/.installed

# The Python asked for must be >= 3.11, and the virtualenv must have been built with it: a
# .venv left by another Python (say `make test PYTHON=python3.10` once) is rebuilt, not reused.
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PY_VERSION),)
$(error $(PYTHON) was not found: install Python >= 3.11 (with venv) or pass PYTHON=python3.11)
endif
ifneq ($(shell $(PYTHON) -c 'import sys; print(sys.version_info >= (3, 11))'),True)
$(error opsbot needs Python >= 3.11 and $(PYTHON) is $(PY_VERSION): pass PYTHON=python3.11 (or newer))
endif
VENV_VERSION := $(shell [ -x $(BIN)/python ] && $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(VENV_VERSION),)
ifneq ($(VENV_VERSION),$(PY_VERSION))
$(info make: $(VENV) was built with Python $(VENV_VERSION), not $(PY_VERSION): rebuilding it)
$(shell rm -rf $(VENV))
endif
endif
# Every dependency's version, resolved once by `make lock`; the virtualenv below and
# the image (Containerfile) both install with it, so they get the same versions.
CONSTRAINTS := constraints.txt
# Tests and benchmarks talk only to loopback servers; a proxy would intercept them.
LOOPBACK := env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u ALL_PROXY -u all_proxy

# The image: `make image` builds the tag the manifests run
# (manifests/base/deployment.yaml); `make image IMAGE=registry.example.com/opsbot:0.1.0`
# builds another, which the `images:` example in manifests/kustomization.yaml points the
# Deployment at. Podman if installed, else Docker; ENGINE=... picks one.
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' opsbot/__init__.py)
IMAGE   ?= ghcr.io/opsbot/opsbot:$(VERSION)
ENGINE  ?= $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)

.PHONY: run test lint unit e2e bench check-config image push lock clean alertmanager redis

$(STAMP): setup.cfg pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip --constraint $(CONSTRAINTS)
	$(BIN)/pip install --quiet --constraint $(CONSTRAINTS) -e '.[test,otel,sentry]'
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

# The real Alertmanager for the Alertmanager tests: Debian's package, installed when missing and
# this runs as root with apt; otherwise one line says how (those tests then skip, saying so too).
ALERTMANAGER_BIN ?= /usr/bin/prometheus-alertmanager
APT := DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0
alertmanager:
	@if [ -x "$(ALERTMANAGER_BIN)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make: installing prometheus-alertmanager (the Alertmanager tests run the real one)"; \
	  { $(APT) update && $(APT) install -y --no-install-recommends prometheus-alertmanager; } >/dev/null 2>&1 \
	    || echo "make: could not install prometheus-alertmanager; its tests will skip"; \
	else echo "make: the Alertmanager tests will skip: install it with 'sudo apt-get install -y prometheus-alertmanager'"; fi

# The real Redis for the store's Redis tests (tests/contract): Debian's redis-server, installed
# the same way when redis-server is not on PATH. With CI set, those tests fail instead of skipping.
redis:
	@if command -v redis-server >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make: installing redis-server (the Redis store tests run the real one)"; \
	  { $(APT) update && $(APT) install -y --no-install-recommends redis-server; } >/dev/null 2>&1 \
	    || echo "make: could not install redis-server; its tests will skip"; \
	else echo "make: the Redis store tests will skip: install it with 'sudo apt-get install -y redis-server'"; fi

test: lint $(BIN)/kubectl alertmanager redis ## Lint, type-check and run the whole test suite
	$(LOOPBACK) ALERTMANAGER_BIN=$(ALERTMANAGER_BIN) $(BIN)/pytest -q

bench: $(STAMP) alertmanager redis ## Print the performance figures (several minutes; QUICK=1: bench.memory's short run)
	$(LOOPBACK) $(BIN)/python -m bench.command_latency
	$(LOOPBACK) $(BIN)/python -m bench.watch_throughput
	$(LOOPBACK) $(BIN)/python -m bench.alert_latency
	$(LOOPBACK) $(BIN)/python -m bench.alert_storm
	$(LOOPBACK) $(BIN)/python -m bench.telemetry_overhead
	$(LOOPBACK) $(BIN)/python -m bench.alertmanager
	$(LOOPBACK) $(BIN)/python -m bench.releases
	$(LOOPBACK) $(BIN)/python -m bench.memory $(if $(QUICK),--quick)
	$(LOOPBACK) $(BIN)/python -m bench.store
	$(LOOPBACK) $(BIN)/python -m bench.failover
	$(LOOPBACK) $(BIN)/python -m bench.replicas $(if $(QUICK),--quick)
	$(LOOPBACK) $(BIN)/python -m bench.handoff

image: ## Build the container image, tagged as the manifests run it (IMAGE=... for another tag)
	$(if $(ENGINE),,$(error make image: neither podman nor docker is installed; install one, or set ENGINE=/path/to/it))
	$(ENGINE) build --build-arg VERSION=$(VERSION) -t $(IMAGE) -f Containerfile .

push: image ## Push the image to its registry (log in first: podman/docker login)
	$(ENGINE) push $(IMAGE)

# Re-resolve every dependency (runtime and test extras) in a fresh virtualenv and write
# the versions to constraints.txt. Run it with the Python the image uses (3.11), commit
# the result; `make` and the image then install exactly these versions.
lock: ## Refresh constraints.txt (the pinned versions make and the image install)
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet '.[test,otel,sentry]'
	{ echo "# Every dependency of opsbot[test,otel,sentry], pinned. Generated by \`make lock\` with"; \
	  echo "# Python $$(.lock-venv/bin/python -c 'import platform; print(platform.python_version())'): do not edit; re-run it to update."; \
	  echo "# Used by the Makefile's virtualenv and by the Containerfile (pip --constraint)."; \
	  .lock-venv/bin/pip freeze --all --exclude opsbot --exclude setuptools --exclude wheel; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf .lock-venv build opsbot.egg-info  # left behind by the non-editable install

clean:
	rm -rf $(VENV) .lock-venv .mypy_cache .ruff_cache .pytest_cache *.egg-info
