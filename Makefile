# Thin wrapper over CMake so the README's commands stay plain: `make`, `make test`, `make demo`.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps configure test demo clean asan clang

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

demo: all
	sh scripts/demo.sh $(BUILD)/ftunet

clean:
	rm -rf $(BUILD) build-asan build-clang
