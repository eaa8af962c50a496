# covguard - developer entry points. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
DEMO_OUT ?= demo-output

.DEFAULT_GOAL := help
.PHONY: help demo demo-target test bootstrap venv lint typecheck pytest bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "installing covguard and its development tools into $(VENV) (log: $(VENV)/install.log)"
	@$(PY) -m pip install --upgrade pip > $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@$(PY) -m pip install -e '.[dev]' >> $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv with covguard and its development tools

bootstrap: ## Install the toolchain packages the tests need (Debian, as root or with sudo)
	./scripts/bootstrap.sh

demo: $(STAMP) ## Run covguard on sample_firmware/ (build, test, analyse, report, gate)
	@./scripts/demo.sh "$(PY)" "$(DEMO_OUT)"

demo-target: $(STAMP) ## The same on an emulated Cortex-M3 (arm-none-eabi-gcc, QEMU)
	@./scripts/demo-target.sh "$(PY)" "$(DEMO_OUT)-target"

lint: $(STAMP) ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) ## mypy --strict
	$(VENV)/bin/mypy

pytest: $(STAMP) ## The test suite
	$(PY) -m pytest

test: bootstrap $(STAMP) lint typecheck pytest ## Install what the tests need, then ruff, mypy and pytest

bench: bootstrap $(STAMP) ## Benchmarks against gcov, gcovr, lcov and fastcov (prints the table; minutes)
	$(PY) bench/run.py

clean: ## Remove the venv, work folders and outputs
	rm -rf $(VENV) .covguard sample_firmware/.covguard $(DEMO_OUT) $(DEMO_OUT)-target covguard-report sample_firmware/build
