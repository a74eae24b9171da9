# `make run` and `make test` each set everything up on a fresh machine first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.archc-installed

.PHONY: setup run test check lint golden fuzz fuzz-models bench docs-images clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/setup-system.sh
	sh scripts/setup-system.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

run: setup
	$(VENV)/bin/archc build specs/googlenet.arch --target torch --force

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check archc tests bench
	$(VENV)/bin/ruff format --check archc tests bench
	$(VENV)/bin/mypy

check: lint test

golden: setup
	$(PY) -m tests.regenerate

fuzz: setup
	ARCHC_FUZZ_EXAMPLES=200000 $(PY) -m pytest -q tests/test_fuzz.py

# the differential campaign over generated specs (CI runs 1,000; ARCHC_CAMPAIGN_SPECS=N for more)
fuzz-models: setup
	ARCHC_CAMPAIGN_SPECS=$${ARCHC_CAMPAIGN_SPECS:-20000} $(PY) -m pytest -q -s tests/test_campaign.py -k generated_specs

docs-images: setup
	$(PY) scripts/render_docs_images.py

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build dist out .pytest_cache
