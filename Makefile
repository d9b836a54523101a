# SPDX-License-Identifier: Apache-2.0
# capsule: the entry points. CMake does the building underneath.

SHELL    := /bin/bash
BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
JOBS     ?= $(shell nproc)
BATS_JOBS ?= $(JOBS)
CMAKE_FLAGS ?=

# Debian packages the build, the tests, the demo and the benchmarks need.
DEPS := cmake g++ make pkg-config clang-format \
	libcli11-dev libsystemd-dev libarchive-dev libssl-dev libspdlog-dev doctest-dev \
	nlohmann-json3-dev libcurl4-openssl-dev libsqlite3-dev libseccomp-dev libcap-dev \
	libacl1-dev libzstd-dev liblz4-dev liblzma-dev libbz2-dev zlib1g-dev nettle-dev libxml2-dev \
	busybox-static bats parallel util-linux coreutils tar gzip bzip2 xz-utils zstd \
	runc hyperfine python3 openssl docker-registry skopeo umoci apache2-utils libcurl4 sqlite3 diffutils time procps psmisc man-db groff-base zsh fish gnupg \
	systemd systemd-container qemu-system-x86 linux-image-cloud-amd64 e2fsprogs

.PHONY: all deps build unit functional test demo bench install clean format check-format

all: build

deps:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(DEPS) 2>/dev/null | awk '$$4 != "installed" {print $$1}'; \
	  for p in $(DEPS); do dpkg-query -W $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $$(echo $$missing | tr '\n' ' ')"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "make deps: all packages present"; fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

unit: build
	cmake --build $(BUILD) -j $(JOBS) --target unit-tests
	$(BUILD)/unit-tests --no-version | tee $(BUILD)/unit-tests.log; status=$${PIPESTATUS[0]}; \
	awk -F'|' '/test cases:/ {gsub(/[^0-9]/, "", $$2); gsub(/[^0-9]/, "", $$3); print "unit: " $$2 " passed, " $$3 " failed"}' $(BUILD)/unit-tests.log; \
	exit $$status

functional: build
	CAPSULE=$(CURDIR)/$(BUILD)/capsule BATS_JOBS=$(BATS_JOBS) tests/run-functional.sh

check-format:
	@files=$$(git ls-files '*.cpp' '*.h'); \
	if ! clang-format --dry-run --Werror $$files; then echo "make check-format: run 'make format'"; exit 1; fi

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

test: deps
	$(MAKE) build
	$(MAKE) check-format
	$(MAKE) unit
	$(MAKE) functional

demo: deps build
	@tests/lib/demo.sh $(BUILD)

bench: deps build
	@bench/run.sh $(BUILD)

install: build
	install -D -m 0755 $(BUILD)/capsule $(DESTDIR)$(PREFIX)/bin/capsule
	install -D -m 0644 $(BUILD)/stage1-fly.aci $(DESTDIR)$(PREFIX)/lib/capsule/stage1-fly.aci
	install -D -m 0644 $(BUILD)/stage1-systemd.aci $(DESTDIR)$(PREFIX)/lib/capsule/stage1-systemd.aci
	install -D -m 0644 $(BUILD)/stage1-kvm.aci $(DESTDIR)$(PREFIX)/lib/capsule/stage1-kvm.aci
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -D -m 0644 completions/capsule.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/capsule
	install -D -m 0644 completions/_capsule $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_capsule
	install -D -m 0644 completions/capsule.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/capsule.fish
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|/usr/local/bin/capsule|$(PREFIX)/bin/capsule|g' dist/capsule-gc.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/capsule-gc.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/capsule-gc.service
	install -m 0644 dist/capsule-gc.timer $(DESTDIR)$(PREFIX)/lib/systemd/system/capsule-gc.timer

clean:
	rm -rf $(BUILD)
