#!/usr/bin/env python3
"""Writes the tokenizer goldens in tests/tokenizer/goldens/ from Hugging Face `tokenizers` (PyPI).

Run from the repository root, after `make koeval` (it asks koeval for the KoBEST request strings):

    python3 scripts/make_tokenizer_goldens.py [--shared ../shared]
    python3 scripts/make_tokenizer_goldens.py --edge-only     # only edge_cases.jsonl.gz (no koeval needed)

What it writes (all gzip):
  hard_cases.jsonl.gz     the hard-case corpus, one {"text": ...} per line
  synth_a.json.gz, synth_b.json.gz
                          two small tokenizers trained here with HF's BpeTrainer, configured to use
                          the components the four real tokenizers do not (NFKC, Lowercase, Strip,
                          regex Replace, Whitespace, Digits, Punctuation, Metaspace "first",
                          ByteLevel with its regex and prefix space, subword prefix/suffix,
                          lstrip/rstrip/single_word/normalized added tokens, BertProcessing,
                          Metaspace "first" with byte fallback, a Llama-3-style byte-level BPE)
  synth_d.gguf            synth_d written as a llama.cpp "gpt2" vocabulary (gguf package)
  synth_e.json.gz, synth_e.gguf
                          a Llama-2-style SentencePiece BPE (Prepend + Replace, byte fallback) as
                          tokenizer.json and as a llama.cpp "llama" vocabulary with add_space_prefix
  hard_<tok>.jsonl.gz     per hard case: ids without and with special tokens, and the decoded text
                          of the ids (skip_special_tokens False and True) and of their first half
  edge_cases.jsonl.gz     small hand-written tokenizer.json files, one per line, each for options and
                          corners the trained ones do not reach (Strip then a Replace that matches the
                          empty string, legacy Metaspace, Digits runs, every White_Space character,
                          ByteLevel without its regex, byte tokens in every spelling, ids past the
                          vocab, a suffix-only BPE, partial byte fallback, repeated merges, duplicate
                          and empty added tokens, ...): {"name", "tokenizer" (the json text),
                          "cases": [{"text", "ids", "ids_special", "decode", "decode_skip"}],
                          "decodes": [{"ids", "decode", "decode_skip"}]} from HF
  kobest_<tok>_<k>shot.txt.gz
                          the strings lm-eval encodes for `koeval requests --tasks kobest_all
                          --num_fewshot k` (per request: the context without its trailing
                          whitespace, and context + continuation), deduplicated in order of first
                          use; line 1 "strings <n> <fnv64 of the strings>", then one line per
                          string: the 32-bit FNV-1a of its ids (int32 little-endian), add_special
                          False. The C test rebuilds the same strings from the task code.
"""
import argparse
import gzip
import json
import os
import struct
import subprocess

import tokenizers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

OUT = "tests/tokenizer/goldens"
REAL = ["gemma3", "llama2", "llama3", "qwen3"]


def fnv32_ids(ids):
    h = 0x811C9DC5
    for b in struct.pack("<%di" % len(ids), *ids):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def fnv64_strings(strings):
    h = 0xCBF29CE484222325
    for s in strings:
        for b in s.encode("utf-8") + b"\xff":
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def kobest_strings(shots):
    """The two strings lm-eval's HF model encodes per request (huggingface.py _encode_pair)."""
    out = subprocess.run(["./koeval", "requests", "--tasks", "kobest_all", "--num_fewshot", str(shots)],
                         check=True, capture_output=True, text=True).stdout
    seen, strings = set(), []
    for line in out.splitlines():
        r = json.loads(line)
        ctx, cont = r["context"], r["continuation"]
        n_sp = len(ctx) - len(ctx.rstrip())
        if n_sp:
            cont, ctx = ctx[-n_sp:] + cont, ctx[:-n_sp]
        for s in (ctx, ctx + cont):
            if s not in seen:
                seen.add(s)
                strings.append(s)
    return strings


def hard_cases(kobest0):
    specials = ["<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>", "[multimodal]",
                "<unused0>", "<unused6241>", "<image_soft_token>", "<table>", "</td>", "<s>", "</s>",
                "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|endoftext|>",
                "<|im_start|>", "<|im_end|>", "<think>", "</tool_response>", "[CLS]", "[SEP]", "<0x41>"]
    t = ["", " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", " \n ", "a  b   c    d", "a\tb\t\tc",
         "line1\nline2\r\nline3\rline4", "\n\n\n\ntext\n\n\n", " leading", "trailing ", "  both  ",
         "\u3000ideographic space", "nbsp\u00a0here", "\u2028\u2029 separators", "\u0085next line",
         "zero\u200bwidth", "\ufeffbom", "\u1100\u1161\u11a8\u1102\u1165 NFD jamo", "\u1112\u1161\u11ab\u1100\u1173\u11af",
         "한국어 문장입니다.", "안녕하세요? 반갑습니다!", "ｆｕｌｌ　ｗｉｄｔｈ　ＡＢＣ１２３", "ｶﾀｶﾅ半角", "ﬁﬂﬀ ligatures ﬃ",
         "𝐀𝐁𝐂 𝒜𝒷𝒸 𝔸𝕓𝕔 math", "e\u0301 a\u0308 o\u0303 combining", "\u0061\u0301\u0302\u0303 stacked",
         "😀 😃 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 👩🏿‍💻", "🇰🇷🇯🇵 flags", "\x01\x02\x03\x1f\x7f controls", "tab\x0bvt\x0cff",
         "é" * 3 + "É", "İstanbul ΣΑΣ ß ǅ", "Ωmega Ａ", "x" * 600, "ab" * 300, " " * 200, "\n" * 40, "\t" * 40,
         "가" * 300, "😀" * 50, "▁▁ metaspace chars ▁", "▁", "under_score snake_case", "CamelCaseWord",
         "I'm you're he's we've they'll I'd DON'T", "'s 'S 'Re", "12345 1234567890 3.14159 1,000,000", "٣٤٥ ٠١٢ arabic digits",
         "mixed 한글 English 日本語 中文 Русский العربية עברית हिन्दी ไทย", "punct!?.,;:()[]{}<>@#$%^&*-_=+|\\/~`",
         "«quotes» “curly” ‘single’ — dash … ellipsis", "http://example.com/path?q=1&r=2", "email@example.com",
         "    def f(x):\n        return x * 2\n", "a<b>c", "<", "<<bos>>", "bos><bos", "x<bos>y<eos>z",
         "<bos><bos>", " <bos> ", "<eos>\n", "<start_of_turn>user\n안녕<end_of_turn>\n<start_of_turn>model\n",
         "<|begin_of_text|><|begin_of_text|>", "<|im_start|>system\nhi<|im_end|>", "<s>[INST] hi [/INST]</s>",
         "<think>\nreasoning\n</think>", "\u200d\u200c joiners", "\ud7a3\uac00 hangul edges", "\u3131\u314f compatibility jamo",
         "Ǆ ǈ ǋ titlecase", "ΑΒΓ αβγ", "🤷‍♂️🤷🏻‍♀️", "\u0300 leading combining", "a\u0308\u0301", "\u00c5\u212b",
         "\u1e9b\u0323", "Ⅻ ⅻ ① ⑳", "¼ ½ ¾", "™ ℠ ℃ ℉", "㍿ ㈱ ㎏", "\U0001F600\U0001F3FD",
         "end with space ", "end with newline\n", "end with tab\t", "질문: 다음 중 옳은 것은?\n답변:", " 예", " 아니오"]
    t += specials + [s + "text" for s in specials[:6]] + ["a " + s + " b" for s in specials[6:14]]
    t += ["hello world", "say hello", "ahello", "hello_x", "hello!", "x <l> y", "  <l>", "\t<l>z", "<r>   z",
          "a <r>\n b", "<l><r>", "Mixed and MIXED and mixed", "a <sep> b", "\t<sep>\t", "<sep>",
          "\U00030000\U0003134A \U000E0041\U000E007F \U0010FFFD high planes", "한국 added 한국어"]
    t += [kobest0[i] for i in range(0, len(kobest0), 997)]
    return t


# Strings with characters the synthetic tokenizers never saw in training (unk, byte fallback).
UNSEEN = ["☃☄ snow ⛄⛄", "ⓐⓑ", "a☃b"]


def synth_tokenizers(corpus):
    """Two small trained tokenizers exercising the components the real four do not use."""
    a = Tokenizer(models.BPE(unk_token="[UNK]", fuse_unk=True, byte_fallback=False))
    a.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(tokenizers.Regex(r"\d{4,}"), "#"),
                                         normalizers.Lowercase(), normalizers.Strip()])
    a.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True),
                                               pre_tokenizers.Punctuation(behavior="contiguous"),
                                               pre_tokenizers.Metaspace(prepend_scheme="always")])
    a.decoder = decoders.Sequence([decoders.Metaspace(prepend_scheme="always"), decoders.Strip(" ", 1, 0)])
    a.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]", "[CLS]", "[SEP]"]))
    a.post_processor = processors.BertProcessing(("[SEP]", a.token_to_id("[SEP]")), ("[CLS]", a.token_to_id("[CLS]")))
    a.add_tokens([tokenizers.AddedToken("hello", single_word=True, normalized=True),
                  tokenizers.AddedToken("<l>", lstrip=True, normalized=False),
                  tokenizers.AddedToken("<r>", rstrip=True, normalized=False),
                  tokenizers.AddedToken("Mixed", normalized=True)])
    a.add_special_tokens([tokenizers.AddedToken("<bos>", normalized=False)])

    b = Tokenizer(models.BPE(continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    b.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Prepend("_")])
    b.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                               pre_tokenizers.Split(tokenizers.Regex(r"\p{Hangul}*"), "merged_with_previous"),
                                               pre_tokenizers.Split("a", "merged_with_next", invert=True),
                                               pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
    b.decoder = decoders.ByteLevel()
    b.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=700, continuing_subword_prefix="##",
                                                      end_of_word_suffix="</w>",
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    b.post_processor = processors.Sequence([processors.ByteLevel(trim_offsets=False), processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])])
    b.add_special_tokens(["<s>", "</s>"])

    # Metaspace "first" looks at original offsets, so no normalizer here that moves the start
    # (koeval tracks "starts at offset 0" per split, not HF's full alignments).
    c = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    c.normalizer = normalizers.NFKD()
    c.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first", split=False)
    c.decoder = decoders.Sequence([decoders.Metaspace(prepend_scheme="first"), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 0, 2)])
    c.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=500, special_tokens=["<unk>", "<s>"] +
                                                      ["<0x%02X>" % i for i in range(256)]))
    c.add_special_tokens(["<s>"])
    c.add_tokens([tokenizers.AddedToken("<sep>", normalized=False, lstrip=True, rstrip=True)])

    # Llama-3 style byte-level BPE (its regex, ignore_merges), also written as a "gpt2" GGUF below.
    d = Tokenizer(models.BPE(ignore_merges=True))
    d.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(tokenizers.Regex(LLAMA3_RE), "isolated"),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    d.decoder = decoders.ByteLevel()
    d.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=800, special_tokens=["<|begin_of_text|>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    d.add_special_tokens(["<|end_of_text|>"])
    d.add_tokens([tokenizers.AddedToken("한국", normalized=False)])  # not byte-level: decoded as is
    return {"synth_a": a, "synth_b": b, "synth_c": c, "synth_d": d}


LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
             r"\s*[\r\n]+|\s+(?!\S)|\s+")


def write_gguf_bpe(tok, path):
    """The tokenizer as llama.cpp stores a byte-level BPE vocab ("gpt2", pre "llama-bpe")."""
    import gguf
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    special = {a["id"] for a in j["added_tokens"] if a["special"]}
    inv = {i: s for s, i in vocab.items()}
    inv.update({a["id"]: a["content"] for a in j["added_tokens"]})
    n = max(inv) + 1
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list([inv[i] for i in range(n)])
    added = {a["id"] for a in j["added_tokens"]}
    w.add_token_types([3 if i in special else 4 if i in added else 1 for i in range(n)])  # control, user-defined
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]])
    w.add_bos_token_id(vocab["<|begin_of_text|>"])
    w.add_add_bos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def safe_decode(t, ids, skip):
    """HF's decode, or None where HF itself panics (its Strip decoder on an empty list)."""
    try:
        return t.decode(ids, skip_special_tokens=skip)
    except BaseException:  # pyo3's PanicException derives from BaseException
        return None


def spm_merges(vocab, scores):
    """transformers' SentencePieceExtractor merge order (convert_slow_tokenizer.generate_merges)."""
    merges = []
    for piece, score in scores.items():
        local = [(piece[:k], piece[k:], score) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        merges += sorted(local, key=lambda x: (vocab[x[0]], vocab[x[1]]))
    merges.sort(key=lambda v: (v[2], len(v[0]), len(v[1])), reverse=True)
    return [(a, b) for a, b, _ in merges]


def synth_spm(base):
    """A Llama-2-style SentencePiece BPE (add_space_prefix) from synth_c's pieces, scored by id like a
    SentencePiece model: as tokenizer.json (what transformers' converter makes) and as the "llama"
    GGUF llama.cpp would write (control pieces score -1000 there)."""
    import gguf
    j = json.loads(base.to_str())
    inv = {i: s for s, i in j["model"]["vocab"].items()}
    pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    pieces += [inv[i] for i in sorted(inv) if inv[i] not in pieces and not inv[i].startswith("<")]
    vocab = {p: i for i, p in enumerate(pieces)}
    types = [3, 3, 3] + [6] * 256 + [1] * (len(pieces) - 259)
    scores = {p: (0.0 if types[i] != 1 else -float(i)) for i, p in enumerate(pieces)}
    tj = {"version": "1.0", "truncation": None, "padding": None,
          "added_tokens": [{"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False,
                            "normalized": False, "special": True} for i, p in enumerate(pieces[:3])],
          "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                             {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
          "pre_tokenizer": None,
          "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                      {"Sequence": {"id": "A", "type_id": 0}}],
                             "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
          "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                       {"type": "ByteFallback"}, {"type": "Fuse"},
                                                       {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
          "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                    "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                    "vocab": vocab, "merges": [list(m) for m in spm_merges(vocab, scores)]}}
    w = gguf.GGUFWriter(f"{OUT}/synth_e.gguf", "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores([-1000.0 if t == 3 else scores[p] for p, t in zip(pieces, types)])
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_space_prefix(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return Tokenizer.from_str(json.dumps(tj))


def write_gz(path, text):
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(text.encode("utf-8"))


def bpe(vocab, merges=(), **opts):
    m = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
         "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
         "vocab": {t: i for i, t in enumerate(vocab)}, "merges": list(merges)}
    m.update(opts)
    return m


def tj(model, normalizer=None, pre=None, post=None, decoder=None, added=()):
    return {"version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [dict({"single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
                                   "special": False}, **a) for a in added],
            "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": post, "decoder": decoder, "model": model}


ASCII = [chr(c) for c in range(32, 127)]
# every White_Space character Rust knows, and a few that are not
WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def bytes_to_unicode():
    """GPT-2's byte -> character table (the ByteLevel alphabet, in byte order)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(range(ord("\u00ae"), 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def edge_cases():
    """(name, tokenizer.json dict, texts, id lists to decode) for the corners the trained tokenizers miss."""
    out = []
    # Strip first, then a Replace whose regex matches the empty string: a piece normalized to ""
    # is replaced like HF's find_matches on "" (one unmatched empty range: nothing inserted);
    # Prepend on what Strip emptied adds nothing; right-only Strip
    out.append(("strip_replace", tj(bpe(ASCII), normalizer={"type": "Sequence", "normalizers": [
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "Replace", "pattern": {"Regex": "x*"}, "content": "y"},
        {"type": "Prepend", "prepend": "_"}]}), ["   ", " a ", "axb", "\u3000\u2003", "a <s> b"], []))
    out.append(("strip_right", tj(bpe(ASCII), normalizer={"type": "Strip", "strip_left": False, "strip_right": True},
                                  added=[{"id": 95, "content": "<s>", "special": True}]),
                ["  a  ", "\t", " <s> b ", "a\u3000"], []))
    out.append(("strip_left", tj(bpe(ASCII), normalizer={"type": "Strip", "strip_left": True, "strip_right": False}),
                ["  a  ", " \u2028b "], []))
    # Metaspace with the legacy add_prefix_space (HF ignores true, and refuses false unless the
    # scheme is "never") and with "never"
    ms = ["\u2581"] + ASCII + ["\u2581a", "\u2581b"]
    for name, opts in (("metaspace_legacy_on", {"add_prefix_space": True}),
                       ("metaspace_on_never", {"add_prefix_space": True, "prepend_scheme": "never"}),
                       ("metaspace_off_never", {"add_prefix_space": False, "prepend_scheme": "never"})):
        out.append((name, tj(bpe(ms, [("\u2581", "a"), ("\u2581", "b")]),
                             pre=dict({"type": "Metaspace", "replacement": "\u2581", "split": True}, **opts),
                             decoder=dict({"type": "Metaspace", "replacement": "\u2581"}, **opts)),
                    ["a b", "\u2581a b", " a", "ab  b"], [[0, 2, 0, 3], [0, 0, 96]]))
    # Digits as runs, then WhitespaceSplit over every White_Space character
    out.append(("digits_ws", tj(bpe(ASCII + ["\u0663", "\u0664", "\u00bd", "\u2167", "\u200b"]), pre={"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": False}, {"type": "WhitespaceSplit"}]}),
        ["a12345b 6 78", "\u0663\u0664x\u00bd\u2167", "a" + WS.join("bcdefghijklmnopqrstuvwxyz") + "z", "a\u200bb"], []))
    # ByteLevel without its regex, with the prefix space; tokens of broken UTF-8 bytes decode lossily
    b2u = {b: c for b, c in zip(range(256), bytes_to_unicode())}
    broken = ["".join(b2u[b] for b in bs) for bs in ([0xf0, 0x9f, 0x98, 0x41], [0xf5], [0xf0, 0x41], [0xe0, 0x80], [0x7f, 0x80],
                                                      [0xed, 0xa0, 0x80], [0xe1, 0x80, 0x41], [0xe1, 0x80, 0xc0], [0xf4, 0x90])]
    bl = [chr(c) for c in range(33, 127)] + ["\u0120", "\u0120a", "\u00c3", "\u00a9"] + [b2u[0x7f], b2u[0x80]] + broken + ["a\u00ad"]
    out.append(("bytelevel_noregex", tj(bpe(bl, [("\u0120", "a")]), pre={"type": "ByteLevel", "add_prefix_space": True,
                                                                          "trim_offsets": False, "use_regex": False},
                                        decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                                                 "use_regex": False}),
                ["a b", " a", "é", "ab", "\x7f\u0080", "\u00ad"],
                [[96], [96, 97, 96], [98, 99, 98], [0, 9999]] + [[len(bl) - 10 + k] for k in range(10)]))
    # ByteFallback's byte tokens in every spelling, ids past the vocab or without a token, no decoder
    bt = ["<0x0a>", "<0xAF>", "<0xg1>", "<0x1g>", "<1x41>", "<0x41]", "<0xC3>", "<0xA9>", "<0x4G>", "<0xa9>", "a", "b",
          "<0x/1>", "<0x@1>"]
    dec_ids = [[0, 1], [2, 3, 4, 5], [6, 7], [6, 9], [8], [10, 12, 11], [10, 11, 500], [12, 13]]
    out.append(("byte_tokens", tj(bpe(bt), decoder={"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]}),
                ["ab"], dec_ids))
    out.append(("no_decoder", tj(bpe(bt)), ["ab", "ba"], dec_ids))
    # Strip decoders that stop at the first other character (HF panics when one empties a token)
    out.append(("strip_dec", tj(bpe([" ", "a", "a   ", "  a  ", "a b  "]), decoder={"type": "Sequence", "decoders": [
        {"type": "Strip", "content": " ", "start": 0, "stop": 3}, {"type": "Strip", "content": " ", "start": 2, "stop": 0}]}),
        ["a"], [[2], [3, 4], [4, 1, 2]]))
    # a suffix-only BPE (end_of_word_suffix without continuing_subword_prefix)
    out.append(("suffix_only", tj(bpe(["a", "b", "c", "a</w>", "b</w>", "c</w>", "ab", "ab</w>", "abc</w>"],
                                      [("a", "b"), ("a", "b</w>"), ("ab", "c</w>")], end_of_word_suffix="</w>"),
                                  pre={"type": "WhitespaceSplit"}), ["ab abc a cab b", "c"], []))
    # byte fallback where only some bytes have tokens: the rest becomes unk
    out.append(("byte_fallback_partial", tj(bpe(["<unk>", "<0xC3>", "<0xA9>", "a"], unk_token="<unk>", byte_fallback=True)),
                ["aé", "a\u00e8", "\u00e8\u00e9a", "\ud55ca"], []))
    # a vocab with a hole in its ids: the missing id decodes to nothing
    gap = bpe(["a", "b"])
    gap["vocab"]["c"] = 3
    out.append(("id_gap", tj(gap), ["abc"], [[0, 2, 3]]))
    # Split merged_with_previous where the text starts with the delimiter; empty Sequences
    out.append(("merged_prev", tj(bpe(ASCII), normalizer={"type": "Sequence", "normalizers": []},
                                  pre={"type": "Sequence", "pretokenizers": [
                                      {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False}]},
                                  decoder={"type": "Sequence", "decoders": []},
                                  post={"type": "Sequence", "processors": []}), [" a b", "  a", "a "], []))
    # a normalized added token without a normalizer; raw and normalized tokens around each other
    out.append(("added_mixed", tj(bpe(ASCII), added=[{"id": 95, "content": "<r>"}, {"id": 96, "content": "xy", "normalized": True}]),
                ["<r>axyb", "xy<r>xy", "a<r>", "<r>"], []))
    # a merge given twice: the later rank counts (HF builds its map in order)
    out.append(("dup_merge", tj(bpe(["a", "b", "c", "ab", "bc", "abc"], [("a", "b"), ("b", "c"), ("a", "b"), ("ab", "c")])),
                ["abc", "bcab"], []))
    # added tokens: single_word after and before multi-byte characters, lstrip after a multi-byte
    # space, a normalized one under a normalizer that changes it
    out.append(("added_edge", tj(bpe(ASCII + ["\u00e9", "\ud55c"]), normalizer={"type": "Lowercase"}, added=[
        {"id": 97, "content": "<d>"}, {"id": 98, "content": "<w>", "single_word": True},
        {"id": 99, "content": "<l>", "lstrip": True}, {"id": 100, "content": "ABC", "normalized": True}]),
        ["x<d>y", "<d>xABCy", "ABC<d>", "\u00e9<w>", "\u0663<w>", "\u2167<w>", "\u0301<w>", "\u0378<w>", "_<w>",
         "\u00bd<w>", "\u00b2<w>", "<w>\u203f", "\u200d<w>", "\u24b6<w>", "<w>\U0001F150", "\U0001F14A<w>", "\u0903<w>", "\u20dd<w>", "\u200c<w>", "\U0001F130<w>", "\U0001F16A<w>",
         "\U0001F170<w>", "\U0001F189<w>", "\U0001F18A<w>", "\u24e9<w>", "<w>\u00e9", "\ud55c <w> \ud55c", "\u3000<w>\u3000", "a\u3000<l>", "\u3000\u3000<l>b",
         "<l><d>", "abc ABC", ""], [[97, 98, 99], [100]]))
    return out


def write_edge():
    lines = []
    for name, j, texts, dec in edge_cases():
        text = json.dumps(j, ensure_ascii=False)
        t = Tokenizer.from_str(text)
        cases = []
        for s in texts:
            p, sp = t.encode(s, add_special_tokens=False), t.encode(s, add_special_tokens=True)
            cases.append({"text": s, "ids": p.ids, "ids_special": sp.ids, "decode": safe_decode(t, sp.ids, False),
                          "decode_skip": safe_decode(t, sp.ids, True)})
        decodes = [{"ids": ids, "decode": safe_decode(t, ids, False), "decode_skip": safe_decode(t, ids, True)} for ids in dec]
        lines.append(json.dumps({"name": name, "tokenizer": text, "cases": cases, "decodes": decodes}, ensure_ascii=False))
    write_gz(f"{OUT}/edge_cases.jsonl.gz", "\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("KOEVAL_SHARED", "../shared"))
    ap.add_argument("--edge-only", action="store_true", help="write only edge_cases.jsonl.gz")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    write_edge()
    if args.edge_only:
        return
    toks = {}
    for name in REAL:
        with gzip.open(f"{args.shared}/tokenizers/{name}/tokenizer.json.gz", "rt", encoding="utf-8") as f:
            toks[name] = Tokenizer.from_str(f.read())
    k0, k5 = kobest_strings(0), kobest_strings(5)
    hard = hard_cases(k0)
    synth = synth_tokenizers(hard + k0[:2000])
    hard += UNSEEN
    write_gguf_bpe(synth["synth_d"], f"{OUT}/synth_d.gguf")
    synth["synth_e"] = synth_spm(synth["synth_c"])
    for name, t in synth.items():
        write_gz(f"{OUT}/{name}.json.gz", t.to_str())
        toks[name] = Tokenizer.from_str(t.to_str())  # what the C side loads
    write_gz(f"{OUT}/hard_cases.jsonl.gz", "".join(json.dumps({"text": s}, ensure_ascii=False) + "\n" for s in hard))
    for name, t in toks.items():
        lines = []
        plain = t.encode_batch(hard, add_special_tokens=False)
        special = t.encode_batch(hard, add_special_tokens=True)
        for p, s in zip(plain, special):
            lines.append(json.dumps({"ids": p.ids, "ids_special": s.ids,
                                     "decode": safe_decode(t, s.ids, False),
                                     "decode_skip": safe_decode(t, s.ids, True),
                                     # cut in the middle: broken UTF-8 for byte-level / byte fallback
                                     "decode_half": safe_decode(t, s.ids[:len(s.ids) // 2 + 1], False)},
                                    ensure_ascii=False))
        write_gz(f"{OUT}/hard_{name}.jsonl.gz", "\n".join(lines) + "\n")
        if name not in REAL:
            continue
        for shots, strings in ((0, k0), (5, k5)):
            encs = t.encode_batch(strings, add_special_tokens=False)
            body = "".join("%08x\n" % fnv32_ids(e.ids) for e in encs)
            write_gz(f"{OUT}/kobest_{name}_{shots}shot.txt.gz",
                     "strings %d %016x\n" % (len(strings), fnv64_strings(strings)) + body)
    print("tokenizers", tokenizers.__version__, "kobest strings", len(k0), len(k5), "hard cases", len(hard))


if __name__ == "__main__":
    main()
