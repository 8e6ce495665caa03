#!/usr/bin/env python3
"""make_act_goldens.py — the feed-forward activations exactly as HF transformers computes them in 16-bit
dtypes (torch's own CUDA kernels: act_fn(gate_proj(x)) on a bfloat16 / float16 tensor, computed in
float32 and rounded once), for every 16-bit input: the golden of tests/cuda/test_cuda_act, which holds
the CUDA backend's act_f (engine/cuda/numerics.cuh) to them bit for bit.

Run on a machine with a CUDA GPU and torch (the CPU kernels are vectorised differently):
    python3 scripts/make_act_goldens.py [OUT]      (default tests/engine/goldens/act16.bin.gz)

Layout: six arrays of 65,536 little-endian uint16, the output's bits indexed by the input's bits, for
(bfloat16, float16) x (silu, gelu tanh, gelu erf): the order of ko_act (engine/model/model.h)."""
import gzip
import sys

import torch
import torch.nn.functional as F

ACTS = [F.silu, lambda x: F.gelu(x, approximate="tanh"), F.gelu]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/engine/goldens/act16.bin.gz"
    bits = torch.arange(65536, dtype=torch.int32).to(torch.int16)
    blob = b""
    for dt in (torch.bfloat16, torch.float16):
        x = bits.view(dt).cuda()
        for act in ACTS:
            blob += act(x).cpu().view(torch.int16).numpy().astype("<i2").tobytes()
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write(blob)
    print(f"{out}: {len(blob)} bytes, torch {torch.__version__}, {torch.cuda.get_device_name()}")


if __name__ == "__main__":
    main()
