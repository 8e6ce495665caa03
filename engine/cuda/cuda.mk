# engine/cuda/cuda.mk — the CUDA backend's build, included by the Makefile when nvcc exists.
# Builds for Hopper (sm_90a machine code + sm_90 machine code + compute_90 PTX as the forward
# fallback) and Ampere/Ada (sm_80, sm_86, sm_89). CUDA_GENCODE=... narrows it for quick builds.
CUDA_HOME   ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_GENCODE ?= -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_90,code=[sm_90,compute_90] \
                -gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86 \
                -gencode arch=compute_89,code=sm_89
NVCCFLAGS   ?= -O3 -lineinfo
CU_OBJ      := $(CU_SRC:%.cu=$(B)/%.o)
CUDA_CFLAGS := -DKO_HAVE_CUDA -I$(CUDA_HOME)/include
# cudart static (the binary travels); cuBLASLt has no static archive in every toolkit and weighs
# ~600 MB, so it stays a shared library (rpath to the toolkit; LD_LIBRARY_PATH elsewhere).
CUDA_LDLIBS := -L$(CUDA_HOME)/lib64 -lcudart_static -lcublasLt -ldl -lrt -lstdc++ \
               -Wl,-rpath,$(CUDA_HOME)/lib64

$(B)/engine/cuda/%.o: engine/cuda/%.cu $(wildcard engine/cuda/*.cuh engine/cuda/*.h) engine/engine.h engine/model/model.h common/ko.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -std=c++17 $(CUDA_GENCODE) -I. -D_GNU_SOURCE -Xcompiler -Wall,-Wextra,-Werror,-fPIC \
	    -Xptxas -warn-spills -c -o $@ $<

# GPU tests written in CUDA (tests/cuda/test_*.cu): compiled by nvcc, linked like the C tests.
CU_TEST_BIN := $(patsubst tests/%.cu,$(B)/tests/%,$(wildcard tests/cuda/test_*.cu))
$(B)/tests/cuda/%.cu.o: tests/cuda/%.cu $(wildcard engine/cuda/*.cuh engine/cuda/*.h) common/ko.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -std=c++17 $(CUDA_GENCODE) -I. -D_GNU_SOURCE -Xcompiler -Wall,-Wextra,-Werror -c -o $@ $<
$(CU_TEST_BIN): $(B)/tests/%: $(B)/tests/%.cu.o $(B)/libkoeval.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(CUDA_LDLIBS)
