# Sluice: the two commands of the quick start are `make demo` and `make test`.
# Everything Sluice needs comes from Debian's packages (scripts/deps.sh installs what is missing).
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=
SLUICE = $(BUILD)/sluice

.PHONY: all deps build demo test conformance asan bench chaos-report clean

all: build

deps:
	@scripts/deps.sh build

# Order-only on deps: with -j2 make would otherwise run cmake while apt still installs.
$(BUILD)/build.ninja: | deps
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD)/build.ninja
	@cmake --build $(BUILD) -j $(JOBS)

demo:
	@scripts/deps.sh build demo
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(SLUICE)

test:
	@scripts/deps.sh build test
	@$(MAKE) --no-print-directory build
	@scripts/test.sh $(BUILD)

# The CEL project's conformance tests against src/expr, per file, with failures listed.
conformance:
	@$(MAKE) --no-print-directory build
	@$(BUILD)/sluice_cel_conformance --floor $$(cat tests/conformance/FLOOR) --verbose

# The unit tests and the end-to-end suites built with AddressSanitizer + UBSan. A unity build
# (about half the compile time; src/README.md, "Unity builds") without the web UI, whose suite
# does not run here.
asan:
	@scripts/deps.sh build test
	@$(MAKE) --no-print-directory BUILD=build-asan CMAKE_FLAGS="-DSLUICE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_UNITY_BUILD=ON -DSLUICE_UI=OFF" build
	@SLUICE_ASAN=1 scripts/test.sh build-asan

bench:
	@scripts/deps.sh build bench
	@$(MAKE) --no-print-directory build
	@bench/run_bench.sh $(SLUICE)
	@if [ -x $(BUILD)/sluice_expr_bench ]; then $(BUILD)/sluice_expr_bench --benchmark_min_time=1; fi

# The team's resilience report from examples/chaos (docs/chaos.md): build/chaos-report/.
chaos-report:
	@scripts/deps.sh build test
	@$(MAKE) --no-print-directory build
	@scripts/chaos_report.sh $(SLUICE)

clean:
	rm -rf $(BUILD) build-asan
