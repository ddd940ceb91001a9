# Thin wrapper over CMake so the README's commands stay plain: `make`, `make test`, `make demo`.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps configure test demo clean asan clang fuzz

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@sh scripts/install-deps.sh

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

test: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Sanitizer and clang builds, each in its own folder.
asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DFTUNET_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"
clang:
	$(MAKE) test BUILD=build-clang CMAKE_FLAGS="-DCMAKE_C_COMPILER=clang"

# libFuzzer targets (clang, ASan + UBSan) in build-fuzz; `make fuzz FUZZ_SECONDS=N` also runs each
# for N seconds on its seed corpus (scripts/fuzz.sh).
FUZZ_SECONDS ?=
fuzz: deps
	@sh scripts/install-deps.sh fuzz
	@test -f build-fuzz/CMakeCache.txt || cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFTUNET_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-fuzz --target fuzzers -j $(JOBS)
	$(if $(FUZZ_SECONDS),sh scripts/fuzz.sh $(FUZZ_SECONDS))

demo: all
	sh scripts/demo.sh $(BUILD)/ftunet

clean:
	rm -rf $(BUILD) build-asan build-clang build-fuzz
