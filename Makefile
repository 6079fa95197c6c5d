# make generate PROFILE=ccx33   render + check the stack
# make deploy PROFILE=ccx33     the whole pipeline (on the sandbox without HCLOUD_TOKEN)
# make test                     the test suite
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
HD      := $(BIN)/hetzner-deploy
PROFILE ?= ccx33
ENV     ?= production

# Terraform warns about a missing CLI config on every run unless told otherwise;
# the sandbox points this at its own file.
export TF_CLI_CONFIG_FILE ?= /dev/null

.PHONY: venv system-deps generate check deploy test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[sandbox,test]'
	touch $@

venv: $(VENV)/.installed

system-deps:
	@bash scripts/system-deps.sh

generate: venv system-deps
	$(HD) generate --profile $(PROFILE) --env $(ENV) --check

check: venv system-deps
	$(HD) check

deploy: venv system-deps
	$(HD) deploy --profile $(PROFILE) --env $(ENV) $(DEPLOY_FLAGS)

test: venv system-deps
	$(BIN)/pytest $(PYTEST_FLAGS)

bench: venv system-deps
	$(BIN)/python bench/sandbox_roundtrip.py
	$(BIN)/python bench/runner_overhead.py

clean:
	rm -rf $(VENV) .sandbox .pytest_cache
