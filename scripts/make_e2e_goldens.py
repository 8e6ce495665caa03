#!/usr/bin/env python3
"""make_e2e_goldens.py — the whole pipeline against lm-eval 0.4.13 itself, offline, on CPU.

  python scripts/make_e2e_goldens.py [--data ../shared/datasets/kobest_v1] [--out tests/evaluator/e2e]
  python scripts/make_e2e_goldens.py --gguf models/gemma-3-270m-q4_k_m.gguf [--out tests/evaluator/real]
      [--limit0 10 --limit5 3]      (a negative limit: every document; 0: skip those shots)

Needs: pip install lm-eval==0.4.13 torch transformers tokenizers pandas datasets.
What it writes under --out:
  model/            a tiny random-init Gemma-3 text model (Gemma3ForCausalLM, float32 safetensors,
                    4 layers, sliding window 32 with one full layer, hidden 64, vocab 2048) with a
                    tiny tokenizer built like Gemma 3's (normalizer Replace " " -> "▁", BPE with
                    byte_fallback, <bos> template), its BPE merges learned from the KoBEST train
                    texts; max_position_embeddings 512 so that long 5-shot prompts are
                    left-truncated the way lm-eval does it;
  lmeval_{0,5}shot.jsonl.gz
                    one line per request from lm-eval's samples: {"task","doc_id","choice","ll",
                    "is_greedy"} and one line per task {"task","metrics":{"acc,none":...}} with
                    lm-eval's reported metrics for the first LIMIT docs of each test split.
With --gguf, no tiny model is made: lm-eval's HF backend loads the real GGUF itself (model_args
gguf_file=..., transformers dequantises it to float32 and builds its tokenizer from the GGUF vocab),
and the same lmeval_{0,5}shot.jsonl.gz are written for --limit0 / --limit5 docs per task.
lm-eval runs its real HF backend (`--model hf`, dtype float32, batch 8 or --batch_size) on that folder; datasets are
built from the KoBEST TSVs exactly as scripts/make_request_goldens.py does. tests/evaluator/test_e2e.sh
runs koeval on the same folder and compares.
"""
import argparse
import gzip
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_request_goldens as mrg  # noqa: E402  (the offline KoBEST DatasetDict builder)

TASKS = mrg.TASKS
VOCAB = 2048
LIMIT = {0: 24, 5: 12}


def train_texts(data):
    import pandas as pd
    out = []
    for folder, cols in [("BoolQ", ["Text", "Question"]), ("COPA", ["sentence", "1", "2"]),
                         ("WiC", ["SENTENCE1", "SENTENCE2"]), ("HellaSwag", ["context", "choice1", "choice2"]),
                         ("SentiNeg", ["Text"])]:
        df = pd.read_csv(os.path.join(data, folder, "train.tsv"), sep="\t", dtype=str, keep_default_na=False)
        for c in cols:
            out += list(df[c])
    return out


def make_tokenizer(data, path):
    """A Gemma-3-shaped tokenizer: same normalizer, pre-tokenizer, model options, post-processor and
    decoder as shared/tokenizers/gemma3, with a small vocabulary (rare syllables fall back to bytes)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.normalizer = normalizers.Replace(" ", "▁")
    t.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")  # for training only
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - 256, special_tokens=specials, limit_alphabet=400,
                                  show_progress=False)
    t.train_from_iterator(train_texts(data), trainer)
    j = json.loads(t.to_str())
    learned = sorted(((i, s) for s, i in j["model"]["vocab"].items() if s not in specials))
    vocab = {s: i for i, s in enumerate(specials)}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for _, s in learned:
        vocab.setdefault(s, len(vocab))
    assert len(vocab) <= VOCAB, len(vocab)
    j["model"].update(vocab=vocab, byte_fallback=True, fuse_unk=True)
    j["added_tokens"] = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, s in enumerate(specials)]
    j["pre_tokenizer"] = {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                          "invert": False}
    j["post_processor"] = {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<bos>", "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]}}}
    j["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"}]}
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False, indent=1)
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<bos>", "eos_token": "<eos>",
                   "pad_token": "<pad>", "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False,
                   "model_max_length": 512}, f, indent=1)


def make_model(path):
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig
    torch.manual_seed(1234)
    cfg = Gemma3TextConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=32,
                           layer_types=["sliding_attention", "sliding_attention", "full_attention",
                                        "sliding_attention"],
                           max_position_embeddings=512, query_pre_attn_scalar=16, initializer_range=0.1,
                           bos_token_id=2, eos_token_id=1, pad_token_id=0, tie_word_embeddings=True)
    model = Gemma3ForCausalLM(cfg).to(torch.float32).eval()
    model.save_pretrained(path, safe_serialization=True)


def run_lm_eval(model_args, shots, limit, device="cpu", batch_size=8, samples=None):
    import lm_eval
    return lm_eval.simple_evaluate(
        model="hf", model_args=f"{model_args},dtype=float32,device={device}",
        tasks=list(samples) if samples else TASKS, num_fewshot=shots, limit=None if samples else limit,
        samples=samples, batch_size=batch_size, log_samples=True,
        bootstrap_iters=100000)


def golden_lines(res):
    lines = []
    for task in [t for t in TASKS if t in res["samples"]]:
        m = {k: v for k, v in res["results"][task].items() if k != "alias"}
        lines.append({"task": task, "metrics": m})
        for s in sorted(res["samples"][task], key=lambda s: s["doc_id"]):
            for c, (resp,) in enumerate(s["resps"]):
                ll, greedy = resp
                lines.append({"task": task, "doc_id": s["doc_id"], "choice": c, "ll": float(ll),
                              "is_greedy": bool(greedy)})
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "datasets", "kobest_v1"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--gguf", default=None, help="a real GGUF file instead of the tiny model")
    ap.add_argument("--limit0", type=int, default=None)
    ap.add_argument("--limit5", type=int, default=None)
    ap.add_argument("--device", default="cpu", help="lm-eval's device (cuda on a GPU machine)")
    ap.add_argument("--batch_size", type=int, default=8, help="lm-eval's batch size (requests)")
    ap.add_argument("--docs", default=None, help='JSON file {"task": [doc ids]}: only those documents '
                    "(lm-eval's samples=), e.g. to re-score requests whose batched result looks wrong")
    a = ap.parse_args()
    limits = dict(LIMIT)
    if a.gguf:
        out = a.out or os.path.join(HERE, "..", "tests", "evaluator", "real")
        gguf = os.path.abspath(a.gguf)
        model_args = f"pretrained={os.path.dirname(gguf)},gguf_file={os.path.basename(gguf)}"
        limits = {0: 10, 5: 3}
    else:
        out = a.out or os.path.join(HERE, "..", "tests", "evaluator", "e2e")
        model_dir = os.path.join(out, "model")
        make_tokenizer(a.data, model_dir)
        make_model(model_dir)
        model_args = f"pretrained={model_dir}"
    if a.limit0 is not None:
        limits[0] = a.limit0
    if a.limit5 is not None:
        limits[5] = a.limit5
    os.makedirs(out, exist_ok=True)

    import datasets
    import lm_eval.api.task as api_task
    datasets.load_dataset = api_task.datasets.load_dataset = mrg.fake_load_dataset(a.data)
    for shots, limit in limits.items():
        if limit == 0:
            continue
        samples = json.load(open(a.docs)) if a.docs else None
        res = run_lm_eval(model_args, shots, limit if limit > 0 else None, a.device, a.batch_size, samples)
        with gzip.GzipFile(os.path.join(out, f"lmeval_{shots}shot.jsonl.gz"), "wb", mtime=0) as f:
            for line in golden_lines(res):
                f.write((json.dumps(line, ensure_ascii=False) + "\n").encode())
        for task in res["results"]:
            print(shots, task, res["results"][task], flush=True)


if __name__ == "__main__":
    main()
