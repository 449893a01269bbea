# Gthulhu build.
#
#   BPF:   src/bpf/gthulhu.bpf.c --clang--> build/gthulhu.bpf.o --bpftool--> build/gthulhu.skel.h
#   user:  src/**.c + skeleton + static libbpf --> build/gthulhu
#   CLI:   tools/gthulhuctl.c --> build/gthulhuctl (talks to the daemon's REST API)
#   tests: tests/unit/test_*.c (cmocka, no kernel needed; the API's HTTP tests run a real
#          server), tests/fuzz (libFuzzer), tests/cli, tests/vm (QEMU + sched_ext kernel)
#
# `make deps` installs the toolchain (scripts/deps.sh); `make run` and `make test` call it.

BUILD      := build
CLANG      ?= clang-19
BPFTOOL    ?= $(firstword $(wildcard /usr/sbin/bpftool /usr/bin/bpftool) bpftool)
LIBBPF_DIR := $(BUILD)/deps/libbpf
LIBBPF_A   := $(LIBBPF_DIR)/usr/lib64/libbpf.a
VERSION    := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE \
	   -Isrc -I$(BUILD) -DGTHULHU_VERSION='"$(VERSION)"'
LDLIBS_CORE := -lmicrohttpd -ljansson -lcurl -lyaml -lurcu-qsbr -lpthread
LDLIBS_APP  := $(LIBBPF_A) -lelf -lz -lzstd $(LDLIBS_CORE)

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -mcpu=v3 -Isrc/bpf -I$(LIBBPF_DIR)/usr/include \
	      -Wall -Werror \
	      -Wno-unused-function -Wno-missing-declarations

# Pure C modules: linked into the daemon and into every unit test.
CORE_SRCS := $(sort $(wildcard src/sched/*.c src/topology/*.c src/strategy/*.c \
			       src/config/*.c src/log/*.c src/api/*.c src/k8s/*.c))
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
# Modules that talk to the kernel through the skeleton.
APP_SRCS  := $(sort $(wildcard src/*.c))
APP_OBJS  := $(APP_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
LINT_SRCS := $(filter-out src/bpf/vmlinux.h,$(sort $(wildcard src/*.c src/*.h src/*/*.c src/*/*.h \
	       tests/unit/*.c tests/unit/*.h tests/api/*.c tests/k8s/*.c tests/vm/*.c tests/fuzz/*.c \
	       bench/*.c bench/*.h \
	       tools/*.c)))
# libFuzzer targets: each links the parser it fuzzes, built with clang's sanitizers.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_LIB_SRCS := $(sort $(wildcard src/strategy/*.c src/config/*.c src/log/*.c src/k8s/*.c))
FUZZ_TIME ?= 300

.PHONY: FORCE all deps run test lint unit fuzz fuzz-smoke cli-test deploy-check vm-test bench bench-smoke clean
all: $(BUILD)/gthulhu $(BUILD)/gthulhuctl

deps:
	@scripts/deps.sh

$(LIBBPF_A):
	@scripts/deps.sh

# The BPF objects include libbpf's headers, and clang comes with the same deps step.
$(BUILD)/gthulhu.bpf.o: src/bpf/gthulhu.bpf.c src/bpf/*.h | $(BUILD) $(LIBBPF_A)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/gthulhu.skel.h: $(BUILD)/gthulhu.bpf.o
	$(BPFTOOL) gen skeleton $< name gthulhu_bpf > $@

# Process start/exec/exit events for the strategy resolver: a separate object, so process
# tracking works (and is tested) whether or not the scheduler is attached.
$(BUILD)/proc_events.bpf.o: src/bpf/proc_events.bpf.c src/bpf/*.h | $(BUILD) $(LIBBPF_A)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/proc_events.skel.h: $(BUILD)/proc_events.bpf.o
	$(BPFTOOL) gen skeleton $< name proc_events_bpf > $@

$(BUILD)/src/%.o: src/%.c $(wildcard src/*/*.h src/*.h) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Everything in src/*.c may include the skeleton and libbpf.
$(APP_OBJS): CFLAGS += -I$(LIBBPF_DIR)/usr/include
$(APP_OBJS): $(BUILD)/gthulhu.skel.h $(BUILD)/proc_events.skel.h $(LIBBPF_A)

# What the binaries print as their version is compiled in: rebuild what prints it when
# `git describe` changes (a commit, a dirty tree), or --version names an older tree.
$(BUILD)/version.stamp: FORCE | $(BUILD)
	@[ "$$(cat $@ 2>/dev/null)" = "$(VERSION)" ] || echo "$(VERSION)" >$@
$(BUILD)/src/gthulhu.o $(BUILD)/src/control.o $(BUILD)/gthulhuctl: $(BUILD)/version.stamp
FORCE:

$(BUILD)/gthulhu: $(APP_OBJS) $(CORE_OBJS) $(LIBBPF_A)
	$(CC) $(CFLAGS) $(APP_OBJS) $(CORE_OBJS) -o $@ $(LDLIBS_APP)

$(BUILD)/gthulhuctl: tools/gthulhuctl.c $(CORE_OBJS)
	$(CC) $(CFLAGS) $< $(CORE_OBJS) -o $@ $(LDLIBS_CORE)

# The API server with a fake scheduler behind it, for the CLI's tests (no kernel needed).
$(BUILD)/tests/api-fake-server: tests/api/fake_server.c $(CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(CORE_OBJS) -o $@ $(LDLIBS_CORE)

# A Kubernetes API server that speaks just enough of the real one for the client's tests.
$(BUILD)/tests/fake-apiserver: tests/k8s/fake_apiserver.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ -lmicrohttpd -lgnutls -ljansson -lpthread

# A CPU hog that wakes a reader through a pipe or an eventfd, for the VM suite.
$(BUILD)/tests/waker: tests/vm/waker.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@

# Throwaway TLS material for the Kubernetes client's https tests (made here, not kept in git).
$(BUILD)/tests/tls/ca.crt: tests/k8s/make-test-certs.sh
	tests/k8s/make-test-certs.sh $(BUILD)/tests/tls

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) -std=gnu11 -g -O1 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all $< $(FUZZ_LIB_SRCS) -o $@ -ljansson -lyaml -lcurl -lurcu-qsbr -lpthread

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJS) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $< $(CORE_OBJS) -o $@ -lcmocka $(LDLIBS_CORE)

$(BUILD):
	@mkdir -p $@

unit: $(UNIT_BINS) $(BUILD)/tests/fake-apiserver $(BUILD)/tests/tls/ca.crt
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

lint:
	clang-format --dry-run --Werror $(LINT_SRCS)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--inline-suppr --std=c11 -D__linux__ -Isrc $(filter %.c,$(filter-out src/bpf/%,$(LINT_SRCS)))

# `make fuzz` runs each target for FUZZ_TIME seconds; `make test` runs fuzz-smoke (20 s each).
fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do tests/fuzz/run.sh $$f $(FUZZ_TIME); done

fuzz-smoke: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do tests/fuzz/run.sh $$f 20; done

cli-test: $(BUILD)/gthulhu $(BUILD)/gthulhuctl $(BUILD)/tests/api-fake-server
	tests/cli/run.sh
	tests/cli/gthulhuctl.sh

# deploy/kubernetes/ without kubectl: every manifest parses and has what its kind needs,
# the sample strategies validate against the CRD's schema, the config uses real keys.
deploy-check: $(BUILD)/gthulhu
	tests/deploy/check-manifests $(BUILD)/gthulhu

vm-test: deps $(BUILD)/gthulhu $(BUILD)/gthulhuctl $(BUILD)/tests/fake-apiserver $(BUILD)/tests/waker
	tests/vm/run.sh $(if $(KERNEL),--kernel $(KERNEL))

run: deps $(BUILD)/gthulhu $(BUILD)/gthulhuctl
	scripts/demo.sh

test: deps
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) fuzz-smoke
	$(MAKE) cli-test
	$(MAKE) deploy-check
	$(MAKE) vm-test
	$(MAKE) bench-smoke

bench: deps $(BUILD)/gthulhu $(BUILD)/gthulhuctl $(BUILD)/tests/fake-apiserver
	bench/run.sh

# One short repetition of every bench workload, so the harness cannot rot (part of make test).
bench-smoke: deps $(BUILD)/gthulhu $(BUILD)/gthulhuctl $(BUILD)/tests/fake-apiserver
	bench/run.sh --smoke

# The decision-path micro-benchmark: bench/run.sh runs it natively and under callgrind.
$(BUILD)/decision_bench: bench/decision_bench.c bench/*.h $(CORE_OBJS)
	$(CC) $(CFLAGS) $< $(CORE_OBJS) -o $@ $(LDLIBS_CORE)

# Process tracking at scale (10 000 processes): full /proc scan against event updates.
$(BUILD)/proc_scan_bench: bench/proc_scan_bench.c bench/*.h $(CORE_OBJS)
	$(CC) $(CFLAGS) $< $(CORE_OBJS) -o $@ $(LDLIBS_CORE)

clean:
	rm -rf $(BUILD)
