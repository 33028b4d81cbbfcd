# genre-book: `make book` builds everything on the embedded synthetic data; `make test` runs the test suite.
# Both create .venv and install the pinned dependencies on first use.
#
#   make book                         quick profile, synthetic corpus (default)
#   make book PROFILE=tiny            the test suite's size, a few minutes
#   make book PROFILE=paper GTZAN_DIR=/data/gtzan FMA_DIR=/data/fma   the paper's sizes on the real data (GPU)
#   make data                         only the corpus and the feature store
#   make bench                        benchmarks -> _build/bench/report.json

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PROFILE  ?= quick
GTZAN_DIR ?=
FMA_DIR  ?=
BUILD    ?= _build
PYTEST_ARGS ?=

STAMP := $(VENV)/.installed

.PHONY: book data test bench clean distclean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[book,test]"
	touch $@

data: $(STAMP)
	$(PY) -m genre_utils.build data --profile $(PROFILE) --build-dir $(BUILD) \
		$(if $(GTZAN_DIR),--gtzan $(GTZAN_DIR)) $(if $(FMA_DIR),--fma $(FMA_DIR))

book: $(STAMP)
	$(PY) -m genre_utils.build book --profile $(PROFILE) --build-dir $(BUILD) \
		$(if $(GTZAN_DIR),--gtzan $(GTZAN_DIR)) $(if $(FMA_DIR),--fma $(FMA_DIR))

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m genre_utils.bench --build-dir $(BUILD)

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf $(VENV) *.egg-info
