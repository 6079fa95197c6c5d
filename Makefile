# make generate PROFILE=ccx33   render + check the stack
# make deploy PROFILE=ccx33     the whole pipeline (on the sandbox without HCLOUD_TOKEN)
# make test                     the test suite
#
# Each job installs only what it needs: generate/check/deploy/bench get the
# tool and its sandbox (`.[sandbox]`, `system-deps.sh run`); `make test` adds
# the test tools (`.[sandbox,test]`: pytest, moto, ...; `system-deps.sh test`:
# PostgreSQL, the hcloud CLI). One stamp file per level in .venv/.
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
HD      := $(BIN)/hetzner-deploy
PROFILE ?= ccx33
ENV     ?= production

# Terraform warns about a missing CLI config on every run unless told otherwise;
# the sandbox points this at its own file.
export TF_CLI_CONFIG_FILE ?= /dev/null

.PHONY: venv venv-test system-deps system-deps-test generate check deploy test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[sandbox]'
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-run
	$(BIN)/pip install -q -e '.[sandbox,test]'
	touch $@

venv: $(VENV)/.installed-run

venv-test: $(VENV)/.installed-test

system-deps:
	@bash scripts/system-deps.sh run

system-deps-test:
	@bash scripts/system-deps.sh test
	@bash scripts/sandbox-machine-deps.sh

generate: venv system-deps
	$(HD) generate --profile $(PROFILE) --env $(ENV) --check

check: venv system-deps
	$(HD) check

deploy: venv system-deps
	$(HD) deploy --profile $(PROFILE) --env $(ENV) $(DEPLOY_FLAGS)

test: venv-test system-deps-test
	$(BIN)/pytest $(PYTEST_FLAGS)

bench: venv system-deps
	$(BIN)/python bench/sandbox_roundtrip.py
	$(BIN)/python bench/runner_overhead.py

clean:
	rm -rf $(VENV) .sandbox .pytest_cache
