#!/usr/bin/env python3
"""make_tiny_models.py — tiny random-init Hugging Face checkpoints, one per supported model_type.

  python scripts/make_tiny_models.py [--out tests/engine/tiny]

Needs: transformers (>= 5, which knows every type below, exaone included), torch (CPU), safetensors.
Writes <out>/<name>/config.json + model.safetensors for:

  gemma3_text  Gemma3ForCausalLM; head_dim 32 != hidden/heads, query_pre_attn_scalar 24 != head_dim,
               sliding window 16 on 3 of 4 layers (rope_local_base_freq) + linear rope scaling on the
               full layer, q/k norms, (1+w) norms, post norms, gelu_tanh, tied head.
  gemma3       Gemma3ForConditionalGeneration as the hub ships it (google/gemma-3-12b-it): a sparse
               text_config that relies on Gemma3TextConfig defaults (query_pre_attn_scalar 256,
               rope_theta 1e6, rope_local_base_freq 1e4, sliding_window_pattern), text weights under
               "language_model.model.*", a (tiny) vision tower "vision_tower.vision_model.*" and
               "multi_modal_projector.*", no lm_head (tied). Stored in bfloat16 (conversion test).
  gemma2       Gemma2ForCausalLM; attention softcap 50 and final softcap 30 (weights scaled so both
               bite), alternating sliding window 16, hidden 48 (sqrt(48) is not exact in fp32),
               head_dim 16 != 48/4.
  llama        LlamaForCausalLM; rope_scaling llama3 with original_max_position_embeddings 64, so the
               three frequency regimes (kept, smoothed, divided) all occur; untied head.
  mistral      MistralForCausalLM; sliding_window 16 on every layer (HF masks it whenever set).
               Stored in float16 (conversion test).
  qwen2        Qwen2ForCausalLM; q/k/v biases, tied head, use_sliding_window false with a
               sliding_window value present (as Qwen2.5 configs have: it must be ignored).
  exaone       EXAONE 3.5 as the hub ships it (LGAI-EXAONE/EXAONE-3.5-*): ExaoneForCausalLM, names
               transformer.wte / transformer.h.N.attn.attention.{q,k,v,out}_proj / ln_1 / ln_2 /
               mlp.c_fc_0 (gate), c_fc_1 (up), c_proj / transformer.ln_f / lm_head, config keys
               num_layers, layer_norm_epsilon, activation_function, llama3 rope scaling. The hub's
               modeling_exaone.py is remote code; transformers >= 5 runs model_type exaone natively as
               LlamaForCausalLM with a renaming table (conversion_mapping.py "exaone"), which is the
               reference used here (the hub code is llama with other names).

configs are written by hand in the hub's (transformers 4.x) key style — what users have on disk —
and every checkpoint is read back with from_pretrained and checked: no missing or unexpected keys,
and the loaded weights equal the generated ones. Weights are deterministic (torch.manual_seed per
model) and drawn at scales that make the logits spread out (HF's 0.02 init gives near-uniform
softmaxes, which would make parity trivially true): linear weights N(0, 1/in), embeddings N(0, 1),
norm weights 1 + N(0, 0.1^2) (Gemma: N(0, 0.1^2), applied as 1+w), biases N(0, 0.1^2); the final
norm ~0.2 and an untied lm_head N(0, 25/in) give logits of std ~1.5; gemma2's q/k projections are 5x
larger so that attention scores reach the softcap (50).
"""
import argparse
import json
import os
import shutil
import tempfile

import torch
from safetensors.torch import save_file

VOCAB = 512

COMMON = {"vocab_size": VOCAB, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
          "max_position_embeddings": 256, "initializer_range": 0.02, "use_cache": True}

MODELS = {
    "gemma3_text": {
        "dtype": "float32", "naming": "hf",
        "config": {**COMMON, "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text",
                   "hidden_size": 64, "intermediate_size": 64, "num_hidden_layers": 4,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32,
                   "query_pre_attn_scalar": 24, "rms_norm_eps": 1e-6,
                   "hidden_activation": "gelu_pytorch_tanh", "sliding_window": 16,
                   "layer_types": ["sliding_attention", "sliding_attention", "full_attention",
                                   "sliding_attention"],
                   "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
                   "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                   "attn_logit_softcapping": None, "final_logit_softcapping": None,
                   "tie_word_embeddings": True},
    },
    "gemma3": {
        "dtype": "bfloat16", "naming": "gemma3_mm",
        "config": {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
                   "boi_token_index": 509, "eoi_token_index": 510, "image_token_index": 262144,
                   "eos_token_id": [1, 106 % VOCAB], "initializer_range": 0.02,
                   "mm_tokens_per_image": 4,
                   "text_config": {"model_type": "gemma3_text", "vocab_size": VOCAB,
                                   "hidden_size": 64, "intermediate_size": 128,
                                   "num_hidden_layers": 4, "num_attention_heads": 4,
                                   "num_key_value_heads": 2, "head_dim": 16,
                                   "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                                   "sliding_window": 16, "sliding_window_pattern": 3,
                                   "max_position_embeddings": 256},
                   "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 16,
                                     "intermediate_size": 32, "num_hidden_layers": 1,
                                     "num_attention_heads": 2, "image_size": 32, "patch_size": 8,
                                     "vision_use_head": False},
                   "torch_dtype": "bfloat16"},
    },
    "gemma2": {
        "dtype": "float32", "naming": "hf", "qk_gain": 5.0,
        "config": {**COMMON, "architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2",
                   "hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 4,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                   "query_pre_attn_scalar": 16, "rms_norm_eps": 1e-6,
                   "hidden_activation": "gelu_pytorch_tanh", "hidden_act": "gelu_pytorch_tanh",
                   "sliding_window": 16, "cache_implementation": "hybrid",
                   "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
                   "rope_theta": 10000.0, "tie_word_embeddings": True},
    },
    "llama": {
        "dtype": "float32", "naming": "hf",
        "config": {**COMMON, "architectures": ["LlamaForCausalLM"], "model_type": "llama",
                   "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                   "rms_norm_eps": 1e-5, "hidden_act": "silu", "attention_bias": False,
                   "mlp_bias": False, "rope_theta": 500000.0,
                   "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                    "original_max_position_embeddings": 64,
                                    "rope_type": "llama3"},
                   "tie_word_embeddings": False},
    },
    "mistral": {
        "dtype": "float16", "naming": "hf",
        "config": {**COMMON, "architectures": ["MistralForCausalLM"], "model_type": "mistral",
                   "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                   "rms_norm_eps": 1e-5, "hidden_act": "silu", "rope_theta": 1000000.0,
                   "sliding_window": 16, "tie_word_embeddings": False},
    },
    "qwen2": {
        "dtype": "float32", "naming": "hf",
        "config": {**COMMON, "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
                   "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 2,
                   "rms_norm_eps": 1e-6, "hidden_act": "silu", "rope_theta": 1000000.0,
                   "use_sliding_window": False, "sliding_window": 32, "max_window_layers": 2,
                   "tie_word_embeddings": True},
    },
    "exaone": {
        "dtype": "float32", "naming": "exaone",
        "config": {**COMMON, "architectures": ["ExaoneForCausalLM"], "model_type": "exaone",
                   "hidden_size": 64, "intermediate_size": 128, "num_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                   "layer_norm_epsilon": 1e-5, "activation_function": "silu",
                   "attention_dropout": 0.0, "embed_dropout": 0.0, "rope_theta": 1000000.0,
                   "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                    "original_max_position_embeddings": 64,
                                    "rope_type": "llama3"},
                   "tie_word_embeddings": False},
    },
}

# EXAONE hub names <- transformers' llama names (the inverse of conversion_mapping.py "exaone").
EXAONE_NAMES = [
    ("model.embed_tokens.", "transformer.wte."), ("model.norm.", "transformer.ln_f."),
    ("model.layers.", "transformer.h."), (".self_attn.o_proj.", ".attn.attention.out_proj."),
    (".self_attn.", ".attn.attention."), (".input_layernorm.", ".ln_1."),
    (".post_attention_layernorm.", ".ln_2."), (".mlp.gate_proj.", ".mlp.c_fc_0."),
    (".mlp.up_proj.", ".mlp.c_fc_1."), (".mlp.down_proj.", ".mlp.c_proj."),
]


def hub_name(naming, name):
    """The name a hub checkpoint of this family stores for transformers' parameter `name`."""
    if naming == "exaone":
        for a, b in EXAONE_NAMES:
            name = name.replace(a, b)
        return name
    if naming == "gemma3_mm":  # transformers 4.5x layout, as google/gemma-3-*-it ship
        for a, b in [("model.language_model.", "language_model.model."),
                     ("model.vision_tower.vision_model.", "vision_tower.vision_model."),
                     ("model.vision_tower.", "vision_tower.vision_model."),
                     ("model.multi_modal_projector.", "multi_modal_projector.")]:
            if name.startswith(a):
                return b + name[len(a):]
        if name == "lm_head.weight":
            return "language_model.lm_head.weight"
    return name


def randomise(model, gemma, qk_gain=1.0):
    """Deterministic weights at scales that give spread-out logits (see the module docstring)."""
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if name.endswith("model.norm.weight"):
                # final norm: logits of std ~3 whether the head is tied (N(0,1) rows) or not
                w = 0.2 + torch.randn(p.shape) * 0.03
                p.copy_(w - 1.0 if gemma else w)
            elif name == "lm_head.weight":
                p.copy_(torch.randn(p.shape) * 5.0 / p.shape[1] ** 0.5)
            elif "norm" in name and p.ndim == 1:
                # Gemma-family norms apply (1 + w) (the SigLIP vision tower's LayerNorms do not).
                w = torch.randn(p.shape) * 0.1
                p.copy_(w if gemma and "vision" not in name else 1.0 + w)
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape) * 0.1)
            elif "embed" in name and p.ndim == 2:
                p.copy_(torch.randn(p.shape))
            elif p.ndim >= 2:
                fan_in = p[0].numel()
                gain = qk_gain if ("q_proj" in name or "k_proj" in name) and "vision" not in name else 1.0
                p.copy_(torch.randn(p.shape) * gain / fan_in ** 0.5)
            else:
                p.copy_(torch.randn(p.shape) * 0.1)


def build(name, spec, out_dir):
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg_dict = spec["config"]
    dtype = getattr(torch, spec["dtype"])
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg_dict, f, indent=2, sort_keys=True)
        f.write("\n")
    config = AutoConfig.from_pretrained(folder)
    torch.manual_seed(1234)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.eval()
    randomise(model, gemma=name.startswith("gemma"), qk_gain=spec.get("qk_gain", 1.0))
    tied = getattr(config.get_text_config(), "tie_word_embeddings", False) or \
        cfg_dict.get("tie_word_embeddings", False)
    tensors = {}
    for pname, p in model.state_dict().items():
        if tied and pname == "lm_head.weight":
            continue  # hub checkpoints of tied models store only the embedding
        tensors[hub_name(spec["naming"], pname)] = p.detach().to(dtype).contiguous().clone()
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})

    # Read it back the way lm-eval does and check nothing was dropped or invented.
    back, info = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                      attn_implementation="eager",
                                                      output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k != "error_msgs"} | \
        ({"error_msgs": info["error_msgs"]} if info.get("error_msgs") else {})
    if bad:
        raise SystemExit(f"{name}: reload problems: {bad}")
    want = model.state_dict()
    for pname, p in back.state_dict().items():
        ref = want[pname].to(dtype).to(torch.float32)
        if not torch.equal(p, ref):
            raise SystemExit(f"{name}: {pname} differs after reload")
    size = os.path.getsize(os.path.join(folder, "model.safetensors"))
    tc = back.config.get_text_config()
    print(f"{name}: {len(tensors)} tensors, {size} bytes, {spec['dtype']}, "
          f"layer_types={getattr(tc, 'layer_types', None)} "
          f"rope={getattr(tc, 'rope_parameters', None)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/engine/tiny")
    ap.add_argument("--only", default=None, help="comma-separated model names")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(MODELS)
    for name in names:
        build(name, MODELS[name], args.out)


if __name__ == "__main__":
    main()
