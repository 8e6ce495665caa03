#!/usr/bin/env python3
"""Goldens for tests/model/test_model_config.c: what HF transformers makes of a config.json.

For every config in tests/model/configs/ — configs shaped like the hub checkpoints of the seed
leaderboard (written out below from their published config.json; hub_*), configs that leave keys out
so that the config class defaults apply (edge_*), and configs saved by transformers itself
(save_pretrained of tiny models: rope_parameters, layer_types; v5_*) — it loads the config with
AutoConfig, instantiates the model on the meta device, and records per layer what the model really
uses: head_dim, softmax scaling, sliding window, attention softcap, RoPE parameters (after
transformers' standardisation), plus sizes, eps, activation, tying, norm style (run on a fresh norm),
and bos/eos/pad. koeval's ko_config_from_hf must give the same. The configs of the CPU engine's tiny
parity checkpoints (tests/engine/tiny/*/config.json) are resolved too.

Run from the repository root (needs torch and transformers; written with transformers 5.24.0):
    python3 scripts/make_model_config_goldens.py
It rewrites tests/model/configs/*.json and tests/model/goldens/configs.jsonl.gz.
"""
import gzip
import json
import os
import shutil
import tempfile

# Inputs shaped like the hub checkpoints' config.json (hub_*) and default-probing edge cases (edge_*).
HUB = {'edge_exaone_defaults': {'model_type': 'exaone',
                          'hidden_size': 64,
                          'num_attention_heads': 8,
                          'num_layers': 2,
                          'vocab_size': 100},
 'edge_gemma2_defaults': {'model_type': 'gemma2',
                          'hidden_size': 64,
                          'intermediate_size': 128,
                          'num_attention_heads': 4,
                          'num_key_value_heads': 1,
                          'num_hidden_layers': 3,
                          'vocab_size': 100,
                          'head_dim': 16},
 'edge_gemma3_no_text_config': {'architectures': ['Gemma3ForConditionalGeneration'], 'model_type': 'gemma3'},
 'edge_gemma3_scaling_type': {'model_type': 'gemma3_text',
                              'hidden_size': 64,
                              'intermediate_size': 128,
                              'num_attention_heads': 4,
                              'num_key_value_heads': 1,
                              'num_hidden_layers': 3,
                              'vocab_size': 100,
                              'head_dim': 16,
                              'sliding_window_pattern': 3,
                              'rope_theta': 50000,
                              'rope_local_base_freq': 5000,
                              'rope_scaling': {'type': 'linear', 'factor': 4.0}},
 'edge_llama_defaults': {'model_type': 'llama',
                         'hidden_size': 64,
                         'intermediate_size': 128,
                         'num_attention_heads': 4,
                         'num_hidden_layers': 2,
                         'vocab_size': 100},
 'edge_llama_head_dim': {'model_type': 'llama', 'hidden_size': 64, 'intermediate_size': 128, 'num_attention_heads': 2,
                         'num_key_value_heads': 1, 'head_dim': 16, 'num_hidden_layers': 2, 'vocab_size': 100},
 'edge_llama_linear_type': {'model_type': 'llama',
                            'hidden_size': 64,
                            'intermediate_size': 128,
                            'num_attention_heads': 4,
                            'num_hidden_layers': 2,
                            'vocab_size': 100,
                            'rope_scaling': {'type': 'linear', 'factor': 2.0}},
 'edge_mistral_defaults': {'model_type': 'mistral',
                           'hidden_size': 64,
                           'intermediate_size': 128,
                           'num_attention_heads': 8,
                           'num_hidden_layers': 2,
                           'vocab_size': 100},
 'edge_qwen2_sliding': {'model_type': 'qwen2',
                        'hidden_size': 64,
                        'intermediate_size': 128,
                        'num_attention_heads': 4,
                        'num_key_value_heads': 2,
                        'num_hidden_layers': 4,
                        'vocab_size': 100,
                        'use_sliding_window': True,
                        'sliding_window': 16,
                        'max_window_layers': 2},
 'hub_EXAONE-3.5-2.4B-Instruct': {'activation_function': 'silu',
                                  'architectures': ['ExaoneForCausalLM'],
                                  'attention_dropout': 0.0,
                                  'bos_token_id': 1,
                                  'embed_dropout': 0.0,
                                  'eos_token_id': 361,
                                  'head_dim': 80,
                                  'hidden_size': 2560,
                                  'initializer_range': 0.02,
                                  'intermediate_size': 7168,
                                  'layer_norm_epsilon': 1e-05,
                                  'max_position_embeddings': 32768,
                                  'model_type': 'exaone',
                                  'num_attention_heads': 32,
                                  'num_key_value_heads': 8,
                                  'num_layers': 30,
                                  'pad_token_id': 0,
                                  'rope_scaling': {'factor': 8.0,
                                                   'high_freq_factor': 4.0,
                                                   'low_freq_factor': 1.0,
                                                   'original_max_position_embeddings': 8192,
                                                   'rope_type': 'llama3'},
                                  'rope_theta': 1000000.0,
                                  'tie_word_embeddings': True,
                                  'torch_dtype': 'bfloat16',
                                  'transformers_version': '4.43.0',
                                  'use_cache': True,
                                  'vocab_size': 102400},
 'hub_EXAONE-3.5-7.8B-Instruct': {'activation_function': 'silu',
                                  'architectures': ['ExaoneForCausalLM'],
                                  'attention_dropout': 0.0,
                                  'bos_token_id': 1,
                                  'embed_dropout': 0.0,
                                  'eos_token_id': 361,
                                  'head_dim': 128,
                                  'hidden_size': 4096,
                                  'initializer_range': 0.02,
                                  'intermediate_size': 14336,
                                  'layer_norm_epsilon': 1e-05,
                                  'max_position_embeddings': 32768,
                                  'model_type': 'exaone',
                                  'num_attention_heads': 32,
                                  'num_key_value_heads': 8,
                                  'num_layers': 32,
                                  'pad_token_id': 0,
                                  'rope_scaling': {'factor': 8.0,
                                                   'high_freq_factor': 4.0,
                                                   'low_freq_factor': 1.0,
                                                   'original_max_position_embeddings': 8192,
                                                   'rope_type': 'llama3'},
                                  'rope_theta': 1000000.0,
                                  'tie_word_embeddings': False,
                                  'torch_dtype': 'bfloat16',
                                  'transformers_version': '4.43.0',
                                  'use_cache': True,
                                  'vocab_size': 102400},
 'hub_Llama-3.1-8B-Instruct': {'architectures': ['LlamaForCausalLM'],
                               'attention_bias': False,
                               'attention_dropout': 0.0,
                               'bos_token_id': 128000,
                               'eos_token_id': [128001, 128008, 128009],
                               'hidden_act': 'silu',
                               'hidden_size': 4096,
                               'initializer_range': 0.02,
                               'intermediate_size': 14336,
                               'max_position_embeddings': 131072,
                               'mlp_bias': False,
                               'model_type': 'llama',
                               'num_attention_heads': 32,
                               'num_hidden_layers': 32,
                               'num_key_value_heads': 8,
                               'pretraining_tp': 1,
                               'rms_norm_eps': 1e-05,
                               'rope_scaling': {'factor': 8.0,
                                                'low_freq_factor': 1.0,
                                                'high_freq_factor': 4.0,
                                                'original_max_position_embeddings': 8192,
                                                'rope_type': 'llama3'},
                               'rope_theta': 500000.0,
                               'tie_word_embeddings': False,
                               'torch_dtype': 'bfloat16',
                               'transformers_version': '4.42.3',
                               'use_cache': True,
                               'vocab_size': 128256},
 'hub_Mistral-7B-Instruct-v0.2': {'architectures': ['MistralForCausalLM'],
                                  'attention_dropout': 0.0,
                                  'bos_token_id': 1,
                                  'eos_token_id': 2,
                                  'hidden_act': 'silu',
                                  'hidden_size': 4096,
                                  'initializer_range': 0.02,
                                  'intermediate_size': 14336,
                                  'max_position_embeddings': 32768,
                                  'model_type': 'mistral',
                                  'num_attention_heads': 32,
                                  'num_hidden_layers': 32,
                                  'num_key_value_heads': 8,
                                  'rms_norm_eps': 1e-05,
                                  'rope_theta': 1000000.0,
                                  'sliding_window': None,
                                  'tie_word_embeddings': False,
                                  'torch_dtype': 'bfloat16',
                                  'transformers_version': '4.36.0',
                                  'use_cache': True,
                                  'vocab_size': 32000},
 'hub_Mistral-7B-v0.1': {'architectures': ['MistralForCausalLM'],
                         'attention_dropout': 0.0,
                         'bos_token_id': 1,
                         'eos_token_id': 2,
                         'hidden_act': 'silu',
                         'hidden_size': 4096,
                         'initializer_range': 0.02,
                         'intermediate_size': 14336,
                         'max_position_embeddings': 32768,
                         'model_type': 'mistral',
                         'num_attention_heads': 32,
                         'num_hidden_layers': 32,
                         'num_key_value_heads': 8,
                         'rms_norm_eps': 1e-05,
                         'rope_theta': 10000.0,
                         'sliding_window': 4096,
                         'tie_word_embeddings': False,
                         'torch_dtype': 'bfloat16',
                         'transformers_version': '4.36.0',
                         'use_cache': True,
                         'vocab_size': 32000},
 'hub_Qwen2.5-0.5B-Instruct': {'architectures': ['Qwen2ForCausalLM'],
                               'attention_dropout': 0.0,
                               'bos_token_id': 151643,
                               'eos_token_id': 151645,
                               'hidden_act': 'silu',
                               'hidden_size': 896,
                               'initializer_range': 0.02,
                               'intermediate_size': 4864,
                               'max_position_embeddings': 32768,
                               'max_window_layers': 21,
                               'model_type': 'qwen2',
                               'num_attention_heads': 14,
                               'num_hidden_layers': 24,
                               'num_key_value_heads': 2,
                               'rms_norm_eps': 1e-06,
                               'rope_theta': 1000000.0,
                               'sliding_window': 32768,
                               'tie_word_embeddings': True,
                               'torch_dtype': 'bfloat16',
                               'transformers_version': '4.43.1',
                               'use_cache': True,
                               'use_sliding_window': False,
                               'vocab_size': 151936},
 'hub_Qwen2.5-7B-Instruct-1M': {'architectures': ['Qwen2ForCausalLM'],
                                'attention_dropout': 0.0,
                                'bos_token_id': 151643,
                                'eos_token_id': 151645,
                                'hidden_act': 'silu',
                                'hidden_size': 3584,
                                'initializer_range': 0.02,
                                'intermediate_size': 18944,
                                'max_position_embeddings': 1010000,
                                'max_window_layers': 28,
                                'model_type': 'qwen2',
                                'num_attention_heads': 28,
                                'num_hidden_layers': 28,
                                'num_key_value_heads': 4,
                                'rms_norm_eps': 1e-05,
                                'rope_theta': 10000000.0,
                                'sliding_window': 32768,
                                'tie_word_embeddings': False,
                                'torch_dtype': 'bfloat16',
                                'transformers_version': '4.43.1',
                                'use_cache': True,
                                'use_sliding_window': False,
                                'vocab_size': 152064,
                                'dual_chunk_attention_config': {'chunk_size': 262144,
                                                                'local_size': 8192,
                                                                'original_max_position_embeddings': 262144}},
 'hub_gemma-2-27b-it': {'architectures': ['Gemma2ForCausalLM'],
                        'attention_bias': False,
                        'attention_dropout': 0.0,
                        'attn_logit_softcapping': 50.0,
                        'bos_token_id': 2,
                        'cache_implementation': 'hybrid',
                        'eos_token_id': 1,
                        'final_logit_softcapping': 30.0,
                        'head_dim': 128,
                        'hidden_act': 'gelu_pytorch_tanh',
                        'hidden_activation': 'gelu_pytorch_tanh',
                        'hidden_size': 4608,
                        'initializer_range': 0.02,
                        'intermediate_size': 36864,
                        'max_position_embeddings': 8192,
                        'model_type': 'gemma2',
                        'num_attention_heads': 32,
                        'num_hidden_layers': 46,
                        'num_key_value_heads': 16,
                        'pad_token_id': 0,
                        'query_pre_attn_scalar': 144,
                        'rms_norm_eps': 1e-06,
                        'rope_theta': 10000.0,
                        'sliding_window': 4096,
                        'sliding_window_size': 4096,
                        'torch_dtype': 'bfloat16',
                        'transformers_version': '4.42.0.dev0',
                        'use_cache': True,
                        'vocab_size': 256000},
 'hub_gemma-2-9b': {'architectures': ['Gemma2ForCausalLM'],
                    'attention_bias': False,
                    'attention_dropout': 0.0,
                    'attn_logit_softcapping': 50.0,
                    'bos_token_id': 2,
                    'cache_implementation': 'hybrid',
                    'eos_token_id': 1,
                    'final_logit_softcapping': 30.0,
                    'head_dim': 256,
                    'hidden_act': 'gelu_pytorch_tanh',
                    'hidden_activation': 'gelu_pytorch_tanh',
                    'hidden_size': 3584,
                    'initializer_range': 0.02,
                    'intermediate_size': 14336,
                    'max_position_embeddings': 8192,
                    'model_type': 'gemma2',
                    'num_attention_heads': 16,
                    'num_hidden_layers': 42,
                    'num_key_value_heads': 8,
                    'pad_token_id': 0,
                    'query_pre_attn_scalar': 256,
                    'rms_norm_eps': 1e-06,
                    'rope_theta': 10000.0,
                    'sliding_window': 4096,
                    'sliding_window_size': 4096,
                    'torch_dtype': 'float32',
                    'transformers_version': '4.42.0.dev0',
                    'use_cache': True,
                    'vocab_size': 256000},
 'hub_gemma-3-12b-it': {'architectures': ['Gemma3ForConditionalGeneration'],
                        'boi_token_index': 255999,
                        'eoi_token_index': 256000,
                        'eos_token_id': [1, 106],
                        'image_token_index': 262144,
                        'initializer_range': 0.02,
                        'mm_tokens_per_image': 256,
                        'model_type': 'gemma3',
                        'text_config': {'hidden_size': 3840,
                                        'intermediate_size': 15360,
                                        'model_type': 'gemma3_text',
                                        'num_attention_heads': 16,
                                        'num_hidden_layers': 48,
                                        'num_key_value_heads': 8,
                                        'rope_scaling': {'factor': 8.0, 'rope_type': 'linear'},
                                        'sliding_window': 1024},
                        'torch_dtype': 'bfloat16',
                        'transformers_version': '4.50.0.dev0',
                        'vision_config': {'hidden_size': 1152,
                                          'image_size': 896,
                                          'intermediate_size': 4304,
                                          'model_type': 'siglip_vision_model',
                                          'num_attention_heads': 16,
                                          'num_hidden_layers': 27,
                                          'patch_size': 14,
                                          'vision_use_head': False}},
 'hub_gemma-3-1b-it': {'architectures': ['Gemma3ForCausalLM'],
                       'attention_bias': False,
                       'attention_dropout': 0.0,
                       'attn_logit_softcapping': None,
                       'bos_token_id': 2,
                       'cache_implementation': 'hybrid',
                       'eos_token_id': [1, 106],
                       'final_logit_softcapping': None,
                       'head_dim': 256,
                       'hidden_activation': 'gelu_pytorch_tanh',
                       'hidden_size': 1152,
                       'initializer_range': 0.02,
                       'intermediate_size': 6912,
                       'max_position_embeddings': 32768,
                       'model_type': 'gemma3_text',
                       'num_attention_heads': 4,
                       'num_hidden_layers': 26,
                       'num_key_value_heads': 1,
                       'pad_token_id': 0,
                       'query_pre_attn_scalar': 256,
                       'rms_norm_eps': 1e-06,
                       'rope_local_base_freq': 10000,
                       'rope_scaling': None,
                       'rope_theta': 1000000,
                       'sliding_window': 512,
                       'sliding_window_pattern': 6,
                       'torch_dtype': 'bfloat16',
                       'transformers_version': '4.50.0.dev0',
                       'use_cache': True,
                       'vocab_size': 262144},
 'hub_gemma-3-270m': {'_sliding_window_pattern': 6,
                      'architectures': ['Gemma3ForCausalLM'],
                      'attention_bias': False,
                      'attention_dropout': 0.0,
                      'attn_logit_softcapping': None,
                      'bos_token_id': 2,
                      'eos_token_id': 1,
                      'final_logit_softcapping': None,
                      'head_dim': 256,
                      'hidden_activation': 'gelu_pytorch_tanh',
                      'hidden_size': 640,
                      'initializer_range': 0.02,
                      'intermediate_size': 2048,
                      'layer_types': ['sliding_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'full_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'full_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'sliding_attention',
                                      'full_attention'],
                      'max_position_embeddings': 32768,
                      'model_type': 'gemma3_text',
                      'num_attention_heads': 4,
                      'num_hidden_layers': 18,
                      'num_key_value_heads': 1,
                      'pad_token_id': 0,
                      'query_pre_attn_scalar': 256,
                      'rms_norm_eps': 1e-06,
                      'rope_local_base_freq': 10000.0,
                      'rope_scaling': None,
                      'rope_theta': 1000000.0,
                      'sliding_window': 512,
                      'torch_dtype': 'bfloat16',
                      'transformers_version': '4.55.0.dev0',
                      'use_bidirectional_attention': False,
                      'use_cache': True,
                      'vocab_size': 262144},
 'hub_gemma-3-27b-it': {'architectures': ['Gemma3ForConditionalGeneration'],
                        'boi_token_index': 255999,
                        'eoi_token_index': 256000,
                        'eos_token_id': [1, 106],
                        'image_token_index': 262144,
                        'initializer_range': 0.02,
                        'mm_tokens_per_image': 256,
                        'model_type': 'gemma3',
                        'text_config': {'hidden_size': 5376,
                                        'intermediate_size': 21504,
                                        'model_type': 'gemma3_text',
                                        'num_attention_heads': 32,
                                        'num_hidden_layers': 62,
                                        'num_key_value_heads': 16,
                                        'rope_scaling': {'factor': 8.0, 'rope_type': 'linear'},
                                        'sliding_window': 1024,
                                        'head_dim': 128,
                                        'query_pre_attn_scalar': 168},
                        'torch_dtype': 'bfloat16',
                        'transformers_version': '4.50.0.dev0',
                        'vision_config': {'hidden_size': 1152,
                                          'image_size': 896,
                                          'intermediate_size': 4304,
                                          'model_type': 'siglip_vision_model',
                                          'num_attention_heads': 16,
                                          'num_hidden_layers': 27,
                                          'patch_size': 14,
                                          'vision_use_head': False}}}



def v5_saves(out_dir):
    """config.json as transformers itself writes it (rope_parameters, layer_types, diff against the
    class defaults): one tiny model per architecture, saved with save_pretrained."""
    from transformers import AutoConfig, Gemma3Config

    small = dict(vocab_size=100, hidden_size=64, intermediate_size=96, num_hidden_layers=4,
                 num_attention_heads=4, num_key_value_heads=2)
    cfgs = {
        "v5_llama3": AutoConfig.for_model("llama", **small, rope_parameters=dict(
            rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
            original_max_position_embeddings=64), max_position_embeddings=512),
        "v5_mistral": AutoConfig.for_model("mistral", **small, sliding_window=None),
        "v5_qwen2": AutoConfig.for_model("qwen2", **small, tie_word_embeddings=True),
        "v5_gemma2": AutoConfig.for_model("gemma2", **small, head_dim=32, query_pre_attn_scalar=24, sliding_window=8),
        "v5_gemma3_text": AutoConfig.for_model("gemma3_text", **small, head_dim=32, sliding_window=8,
                                               layer_types=["sliding_attention", "full_attention"] * 2),
        "v5_gemma3": Gemma3Config(text_config=dict(small, head_dim=32, sliding_window=8,
                                                   rope_scaling=dict(rope_type="linear", factor=8.0)),
                                  vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                                     num_attention_heads=2, image_size=28, patch_size=14)),
        "v5_exaone": AutoConfig.for_model("exaone", **small, tie_word_embeddings=True),
    }
    for name, cfg in cfgs.items():
        d = os.path.join(out_dir, name)
        cfg.save_pretrained(d)
        with open(os.path.join(d, "config.json")) as f:
            text = f.read()
        shutil.rmtree(d)
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            f.write(text)


def first(v):
    if isinstance(v, (list, tuple)):
        v = v[0] if v else None
    return -1 if v is None else int(v)


def plus_one(norm):
    """Whether the norm computes x_hat * (1 + w): run a fresh one of the same class with w = 0."""
    import torch
    n = type(norm)(4, eps=1e-6)
    with torch.no_grad():
        n.weight.zero_()
        y = n(torch.tensor([[1.0, -1.0, 1.0, -1.0]]))
    return bool(y.abs().sum() > 0)


def resolve(path, root):
    """What transformers makes of config.json: read off the instantiated model (on the meta device,
    so even 27B costs nothing) and the standardised config."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, Gemma3ForConditionalGeneration

    d = tempfile.mkdtemp()
    shutil.copy(path, os.path.join(d, "config.json"))
    cfg = AutoConfig.from_pretrained(d)
    shutil.rmtree(d)
    with torch.device("meta"):
        model = (Gemma3ForConditionalGeneration(cfg) if cfg.model_type == "gemma3"
                 else AutoModelForCausalLM.from_config(cfg))
    text = cfg.get_text_config()
    dec = model.get_decoder()
    layers = dec.layers
    a0 = layers[0].self_attn
    hd = a0.head_dim
    act = getattr(text, "hidden_activation", None) if "gemma" in text.model_type else text.hidden_act
    rp = text.rope_parameters
    nested = isinstance(rp, dict) and any(k in rp for k in ("full_attention", "sliding_attention"))
    types = getattr(text, "layer_types", None)
    rope, window, scale, softcap = [], [], [], []
    for i, layer in enumerate(layers):
        attn = layer.self_attn
        p = rp[types[i]] if nested else rp
        rope.append({k: p.get(k) for k in ("rope_type", "rope_theta", "factor", "low_freq_factor",
                                           "high_freq_factor", "original_max_position_embeddings")})
        w = getattr(attn, "sliding_window", None)
        if text.model_type == "mistral":  # MistralAttention passes config.sliding_window to every layer
            w = text.sliding_window
        window.append(w or 0)
        scale.append(attn.scaling)
        softcap.append(getattr(attn, "attn_logit_softcapping", None) or 0)
    emb = dec.embed_tokens
    return {
        "file": os.path.relpath(path, root),
        "model_type": "gemma3_text" if cfg.model_type == "gemma3" else cfg.model_type,
        "vocab_size": emb.num_embeddings,
        "hidden": emb.embedding_dim,
        "intermediate": layers[0].mlp.gate_proj.out_features,
        "n_layers": len(layers),
        "n_heads": a0.q_proj.out_features // hd,
        "n_kv_heads": a0.k_proj.out_features // hd,
        "head_dim": hd,
        "max_pos": text.max_position_embeddings,
        "rms_eps": float(getattr(dec.norm, "eps", getattr(dec.norm, "variance_epsilon", None))),
        "act": act,
        "norm_plus_one": plus_one(dec.norm),
        "qk_norm": hasattr(a0, "q_norm"),
        "post_norms": hasattr(layers[0], "pre_feedforward_layernorm"),
        "qkv_bias": a0.q_proj.bias is not None,
        "tie_embeddings": model.get_output_embeddings().weight is emb.weight,
        "scale_embeddings": hasattr(emb, "embed_scale"),
        "attn_scale": scale,
        "attn_softcap": softcap,
        "final_softcap": getattr(text, "final_logit_softcapping", None) or 0,
        "sliding_window": window,
        "rope": rope,
        "bos_id": first(text.bos_token_id),
        "eos_id": first(text.eos_token_id),
        "pad_id": first(text.pad_token_id),
    }


def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    here = os.path.join(root, "tests", "model")
    cdir = os.path.join(here, "configs")
    os.makedirs(cdir, exist_ok=True)
    for name, c in HUB.items():
        with open(os.path.join(cdir, name + ".json"), "w") as f:
            json.dump(c, f, indent=1)
            f.write("\n")
    v5_saves(cdir)
    paths = [os.path.join(cdir, n) for n in sorted(os.listdir(cdir)) if n.endswith(".json")]
    # the CPU engine's tiny parity checkpoints (scripts/make_tiny_models.py), when present
    tiny = os.path.join(root, "tests", "engine", "tiny")
    if os.path.isdir(tiny):
        paths += [os.path.join(tiny, a, "config.json") for a in sorted(os.listdir(tiny))
                  if os.path.isfile(os.path.join(tiny, a, "config.json"))]
    rows = [resolve(p, root) for p in paths]
    out = os.path.join(here, "goldens", "configs.jsonl.gz")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        for r in rows:
            f.write((json.dumps(r, sort_keys=True) + "\n").encode())
    print(f"{len(rows)} configs -> {out}")


if __name__ == "__main__":
    main()
