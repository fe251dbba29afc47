# Captune's build. Every target sets up what is missing first (scripts/setup.sh is idempotent and
# fast when nothing is missing), then sources build/env.sh for the cgo flags that point gotch at libtorch.
SHELL   := /bin/bash
GPU     ?= 0
VERSION := $(shell sed -n 's/^ *Version *= *"\(.*\)"/\1/p' FyneApp.toml)
LDFLAGS := -X github.com/captune/captune/app.Version=$(VERSION)
# make run SAMPLE=DIR opens DIR; without it, the user's working copy of the bundled sample (made on
# first use in ~/.local/share/Captune/sample, so the repository's assets/sample is never written).
SAMPLE  ?=
ENVSH   := source build/env.sh && export GPU=$(GPU)
GOTEST_TIMEOUT ?= 40m

.PHONY: all setup dev build run test race bench fixtures package clean jobcheck scale-check

all: build

setup:
	@bash scripts/setup.sh $(if $(filter 1,$(GPU)),--gpu)

# The Python reference (transformers) for fixtures and benchmarks; never needed by build, run or test.
dev:
	@bash scripts/setup.sh --dev $(if $(filter 1,$(GPU)),--gpu)

build: setup
	@$(ENVSH) && go build -ldflags '$(LDFLAGS)' -o bin/captune .
	@echo "built bin/captune"

# Opens the window on the bundled sample dataset (or on SAMPLE=DIR). Without a display it runs under Xvfb.
RUNARGS := $(if $(strip $(SAMPLE)),"$(SAMPLE)",--sample)
run: build
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then exec ./bin/captune $(RUNARGS); \
	else echo "no DISPLAY: running under xvfb-run (use a desktop session to see the window)"; exec xvfb-run -a -s "-screen 0 1400x900x24" ./bin/captune $(RUNARGS); fi

test: setup
	@$(ENVSH) && go vet ./... && xvfb-run -a -s "-screen 0 1400x900x24" go test -timeout $(GOTEST_TIMEOUT) ./...
	@# One model driven from several goroutines through its engine, under the race detector.
	@$(ENVSH) && go test -race -timeout $(GOTEST_TIMEOUT) -run 'TestEngine' ./inference/

# The window's tests under the race detector: workers' callbacks and the tests' actions take turns
# as on the desktop driver's UI goroutine (ui.SerializeForTestDriver); any report is a bug.
race: setup
	@$(ENVSH) && xvfb-run -a -s "-screen 0 1400x900x24" go test -race -timeout $(GOTEST_TIMEOUT) ./ui/
	@$(ENVSH) && xvfb-run -a -s "-screen 0 1400x900x24" go test -race -timeout $(GOTEST_TIMEOUT) -run 'TestGUI' ./app/

# Against two references: the pinned .venv and, when `make dev` made it, .venv-latest (newest torch
# and transformers on PyPI). bench/run.py finds .venv-latest itself; bench/job.py is told.
bench: dev build
	@$(ENVSH) && .venv/bin/python bench/run.py
	@$(ENVSH) && .venv/bin/python bench/jpeg.py
	@# A whole fine-tuning job (full, frozen vision, frozen vision with the feature cache) against the
	@# notebook recipe under each reference venv: bench/job.py --help.
	@$(ENVSH) && .venv/bin/python bench/job.py --python .venv/bin/python \
	  $$([ -x .venv-latest/bin/python ] && echo --latest .venv-latest/bin/python)

# captune export-job's train.py against captune finetune: the first 5 optimizer steps of one CPU
# process equal within 1e-4, the result loads and captions, the data loads as an imagefolder.
jobcheck: dev build
	@$(ENVSH) && CAPTUNE_JOBCHECK=1 go test -count=1 -v -run 'TestExportJob$$|TestExportJobSameRecipe' ./app/

# The same job in 2 CPU processes (torchrun, gloo) steps as 1 process at the doubled batch.
scale-check: dev build
	@$(ENVSH) && CAPTUNE_JOBCHECK=1 go test -count=1 -v -run 'TestExportJobTwoProcesses' ./app/

fixtures: dev
	@$(ENVSH) && .venv/bin/python scripts/make_fixtures.py
	@$(ENVSH) && .venv/bin/python scripts/make_lora_fixtures.py

clean:
	rm -rf bin build

# The Linux release archive dist/captune-VERSION-linux-ARCH.tar.xz: `fyne package` (desktop entry and
# icon from FyneApp.toml) around a binary whose only library search path is $ORIGIN/../lib, with the
# libtorch libraries it loads in lib/. GPU=1 adds the CUDA libraries. See docs/PACKAGING.md;
# scripts/test_package.sh runs the unpacked archive without the development libtorch.
package: setup
	@GPU=$(GPU) bash scripts/package.sh
