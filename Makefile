# make generate PROFILE=ccx33   render + check the stack
# make deploy PROFILE=ccx33     the whole pipeline (on the sandbox without HCLOUD_TOKEN);
#                               without a deploy.toml: the example app (examples/app) on
#                               sandbox machines, its stack under .sandbox/stacks
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
# Your deploy.toml when there is one; else the example app's sandbox config, whose
# stack is generated under .sandbox/ so the committed example stacks stay as they are.
DEMO    := $(if $(wildcard deploy.toml),,yes)
DEPLOY_ARGS := $(if $(DEMO),--config examples/app/sandbox.toml --stacks-dir .sandbox/stacks,)

# Terraform warns about a missing CLI config on every run unless told otherwise;
# the sandbox points this at its own file.
export TF_CLI_CONFIG_FILE ?= /dev/null

.PHONY: venv venv-test system-deps system-deps-test generate check deploy demo-deps test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Bytecode compiled once, as `pip install .` would: an editable install leaves it to the
# first run, and under PYTHONDONTWRITEBYTECODE=1 every start would compile the tool again.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[sandbox]'
	$(BIN)/python -m compileall -q cli.py errors.py app checks commands domains generator ops \
	    pipeline pricing remote runner sandbox >/dev/null
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

# The demo needs sandbox machines (root, Docker; Debian packages) and their images.
demo-deps: venv
	@bash scripts/sandbox-machine-deps.sh
	@bash scripts/demo-setup.sh
	@PYTHON=$(BIN)/python bash scripts/sandbox-images.sh --out .sandbox/images >/dev/null

deploy: venv system-deps $(if $(DEMO),demo-deps,)
	$(if $(DEMO),$(HD) generate --profile $(PROFILE) --env $(ENV) $(DEPLOY_ARGS) >/dev/null,)
	$(HD) deploy --profile $(PROFILE) --env $(ENV) $(DEPLOY_ARGS) $(DEPLOY_FLAGS)

test: venv-test system-deps-test
	$(BIN)/pytest $(PYTEST_FLAGS)

bench: venv system-deps
	$(BIN)/python bench/sandbox_roundtrip.py
	$(BIN)/python bench/runner_overhead.py

clean:
	rm -rf $(VENV) .sandbox .pytest_cache
