# xlb build. `make` builds build/xlb and the BPF objects; see README.md.
V ?= 0
Q := $(if $(filter 1,$(V)),,@)
msg = $(if $(filter 1,$(V)),,@printf '  %-8s %s\n' $(1) $(2);)

BUILD   := build
CLANG   ?= clang
BPFTOOL ?= bpftool
CC      ?= gcc
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Ivmlinux -Ibpf
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-Ibpf -Iuser -I$(BUILD) -MMD -MP
LDLIBS  := -lbpf -lelf -lz -lcurl -lcjson -lyaml -lmicrohttpd -lpthread -lm

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(wildcard user/*.c))
LIB_OBJS  := $(filter-out $(BUILD)/user/main.o,$(USER_OBJS))
TLIB_OBJS := $(patsubst selftests/lib/%.c,$(BUILD)/selftests/lib/%.o,$(wildcard selftests/lib/*.c))
TEST_BINS := $(patsubst selftests/%.c,$(BUILD)/selftests/%,\
	$(wildcard selftests/unit/*.c selftests/bpf/*.c))
DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all deps test demo bench bench-datapath bench-agent fuzz install vmlinux clean
all: $(DEPS_STAMP) $(BUILD)/xlb $(TEST_BINS)

# tools/deps.sh installs missing Debian packages; the stamp keeps it to once.
$(DEPS_STAMP): tools/deps.sh
	$(Q)mkdir -p $(BUILD)
	$(Q)tools/deps.sh
	$(Q)touch $@
deps: $(DEPS_STAMP)

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) | $(DEPS_STAMP)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name xlb_$(subst -,_,$*) > $@

$(BUILD)/user/%.o: user/%.c $(SKELS) | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/selftests/lib/%.o: selftests/lib/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Iselftests/lib -c $< -o $@

$(BUILD)/xlb: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/selftests/%: selftests/%.c $(LIB_OBJS) $(TLIB_OBJS) $(SKELS)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Iselftests/lib $< $(LIB_OBJS) $(TLIB_OBJS) $(LDLIBS) -o $@

$(BUILD)/bench_datapath: tools/bench/bench_datapath.c $(LIB_OBJS) $(TLIB_OBJS) $(SKELS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -Iselftests/lib $< $(LIB_OBJS) $(TLIB_OBJS) $(LDLIBS) -o $@

test: all
	$(Q)selftests/run

demo: all
	$(Q)tools/demo.sh

bench: bench-datapath bench-agent
bench-datapath: $(BUILD)/bench_datapath
	$(Q)$(BUILD)/bench_datapath
bench-agent: all
	$(Q)tools/bench/agent.sh

# libFuzzer on the object decoders (not part of `make test`): FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz: $(DEPS_STAMP)
	$(Q)mkdir -p $(BUILD)/fuzz/corpus
	$(Q)cp ../shared/fixtures/*.json $(BUILD)/fuzz/corpus/ 2>/dev/null || true
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -Ibpf -Iuser \
		selftests/fuzz/fuzz_decode.c user/decode.c user/ipaddr.c -lcjson \
		-o $(BUILD)/fuzz/fuzz_decode
	$(Q)$(BUILD)/fuzz/fuzz_decode -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/corpus

install: all
	install -D -m 0755 $(BUILD)/xlb $(DESTDIR)/usr/local/bin/xlb

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

clean:
	rm -rf $(BUILD)

.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
