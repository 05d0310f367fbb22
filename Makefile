# The whole set-up: `make demo` and `make test` install what they need, build and run.
# SANITIZE=address,undefined or SANITIZE=thread: the same targets built with those
# sanitizers (cmake/sanitizers.cmake), each in its own build directory.
SANITIZE ?=
comma := ,
ifeq ($(SANITIZE),)
BUILD ?= build
BUILD_TYPE := Release
else
ifeq ($(SANITIZE),thread)
BUILD ?= build-tsan
else ifeq ($(SANITIZE),address$(comma)undefined)
BUILD ?= build-asan
else
BUILD ?= build-$(subst $(comma),-,$(SANITIZE))
endif
BUILD_TYPE := RelWithDebInfo
endif
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 600
CONSENSUSD := $(BUILD)/consensusd

.PHONY: all deps build test soak demo demo-batch bench accuracy kafka fuzz clean

all: build

deps:
	@bash deploy/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCONSENSUSD_SANITIZE=$(SANITIZE)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The long runs (docs/reliability.md): the crash test on 5M answers, then the service at
# 50k answers/s for SOAK_SECONDS (default 300) with its RSS and ingest latency checked.
soak: build
	/usr/bin/python3 bench/soak.py $(BUILD) $(SOAK_FLAGS)

# The service on an embedded Kafka with a synthetic stream; serves the dashboard until Ctrl-C.
demo: build
	$(CONSENSUSD) demo $(DEMO_FLAGS)

# Every batch method on the shipped Bluebirds data set.
demo-batch: build
	bash scripts/demo.sh $(CONSENSUSD)

bench: build
	bash scripts/bench.sh $(BUILD)

accuracy: build
	bash scripts/accuracy.sh $(CONSENSUSD) > docs/accuracy.md

# A single-node Apache Kafka broker (KRaft) on a free loopback port, without Docker, until
# Ctrl-C: its jars come from Maven Central once (deploy/kafka/kafka.sh; docs/operations.md).
kafka: deps
	bash deploy/kafka/kafka.sh run $(KAFKA_FLAGS)

# Every libFuzzer target of fuzz/ for FUZZ_SECONDS each, built with clang in build-fuzz/;
# findings (reproducers) go to build-fuzz/artifacts/<target>/.
fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD)
