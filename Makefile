# Gthulhu build.
#
#   BPF:   src/bpf/gthulhu.bpf.c --clang--> build/gthulhu.bpf.o --bpftool--> build/gthulhu.skel.h
#   user:  src/**.c + skeleton + static libbpf --> build/gthulhu
#   tests: tests/unit/test_*.c (cmocka, no kernel needed), tests/vm (QEMU + sched_ext kernel)
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
LDLIBS_CORE := -lyaml -lurcu-qsbr -lpthread
LDLIBS_APP  := $(LIBBPF_A) -lelf -lz -lzstd $(LDLIBS_CORE)

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -mcpu=v3 -Isrc/bpf -I$(LIBBPF_DIR)/usr/include \
	      -Wall -Werror \
	      -Wno-unused-function -Wno-missing-declarations

# Pure C modules: linked into the daemon and into every unit test.
CORE_SRCS := $(sort $(wildcard src/sched/*.c src/topology/*.c src/strategy/*.c \
			       src/config/*.c src/log/*.c))
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
# Modules that talk to the kernel through the skeleton.
APP_SRCS  := $(sort $(wildcard src/*.c))
APP_OBJS  := $(APP_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
LINT_SRCS := $(filter-out src/bpf/vmlinux.h,$(sort $(wildcard src/*.c src/*.h src/*/*.c src/*/*.h \
	       tests/unit/*.c tests/unit/*.h bench/*.c tools/*.c)))

.PHONY: all deps run test lint unit cli-test vm-test bench clean
all: $(BUILD)/gthulhu

deps:
	@scripts/deps.sh

$(LIBBPF_A):
	@scripts/deps.sh

$(BUILD)/gthulhu.bpf.o: src/bpf/gthulhu.bpf.c src/bpf/*.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/gthulhu.skel.h: $(BUILD)/gthulhu.bpf.o
	$(BPFTOOL) gen skeleton $< name gthulhu_bpf > $@

$(BUILD)/src/%.o: src/%.c $(wildcard src/*/*.h src/*.h) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Everything in src/*.c may include the skeleton and libbpf.
$(APP_OBJS): CFLAGS += -I$(LIBBPF_DIR)/usr/include
$(APP_OBJS): $(BUILD)/gthulhu.skel.h $(LIBBPF_A)

$(BUILD)/gthulhu: $(APP_OBJS) $(CORE_OBJS) $(LIBBPF_A)
	$(CC) $(CFLAGS) $(APP_OBJS) $(CORE_OBJS) -o $@ $(LDLIBS_APP)

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJS) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $< $(CORE_OBJS) -o $@ -lcmocka $(LDLIBS_CORE)

$(BUILD):
	@mkdir -p $@

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

lint:
	clang-format --dry-run --Werror $(LINT_SRCS)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--inline-suppr --std=c11 -D__linux__ -Isrc $(filter %.c,$(filter-out src/bpf/%,$(LINT_SRCS)))

cli-test: $(BUILD)/gthulhu
	tests/cli/run.sh

vm-test: deps $(BUILD)/gthulhu
	tests/vm/run.sh $(if $(KERNEL),--kernel $(KERNEL))

run: deps $(BUILD)/gthulhu
	scripts/demo.sh

test: deps
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) cli-test
	$(MAKE) vm-test

bench: deps $(BUILD)/gthulhu
	bench/run.sh

clean:
	rm -rf $(BUILD)
