#!/usr/bin/env python3
"""Writes tests/datasets/goldens.tsv: for every KoBEST split, the number of documents and the sha256
of their canonical JSONL, computed the way the Hugging Face builder of skt/kobest_v1 built them:
pandas.read_csv(path, sep="\\t"), columns picked by name and renamed to the HF field names, labels
mapped to class ids. tests/datasets/test_datasets.c loads the same files with koeval and compares.

Canonical JSONL (also what ko_docrow_to_json writes): one object per line, HF field names in HF order,
json.dumps separators ", " and ": ", UTF-8 kept (ensure_ascii=False), the label a number, and DEL
(U+007F) written as \\u007f like koeval's JSON writer.

usage: python3 scripts/make_dataset_goldens.py [KOBEST_TSV_DIR]   (default ../shared/datasets/kobest_v1)
needs: pandas (pip install pandas)
"""
import hashlib
import json
import os
import sys

import pandas as pd

# name -> (TSV folder, [(HF field, TSV column)], label rule); the label is the last field.
SCHEMAS = {
    "boolq": ("BoolQ", [("paragraph", "Text"), ("question", "Question"), ("label", "Answer")], "bool"),
    "copa": ("COPA", [("premise", "sentence"), ("question", "question"), ("alternative_1", "1"),
                      ("alternative_2", "2"), ("label", "Answer")], "minus1"),
    "wic": ("WiC", [("word", "Target"), ("context_1", "SENTENCE1"), ("context_2", "SENTENCE2"),
                    ("label", "ANSWER")], "bool"),
    "hellaswag": ("HellaSwag", [("context", "context"), ("ending_1", "choice1"), ("ending_2", "choice2"),
                                ("ending_3", "choice3"), ("ending_4", "choice4"), ("label", "label")], "int"),
    "sentineg": ("SentiNeg", [("sentence", "Text"), ("label", "Label")], "int"),
}
SENTINEG_ORIGINATED = [("sentence", "Text_origin"), ("label", "Label_origin")]
SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv", "test_originated": "test.tsv"}
N_LABELS = {"boolq": 2, "copa": 2, "wic": 2, "hellaswag": 4, "sentineg": 2}

# Required by issue 2.
REQUIRED = {
    ("boolq", "test"): 1404, ("copa", "test"): 1000, ("wic", "test"): 1260, ("hellaswag", "test"): 500,
    ("sentineg", "test"): 397, ("boolq", "train"): 3665, ("copa", "train"): 3076, ("wic", "train"): 3318,
    ("hellaswag", "train"): 2029, ("sentineg", "train"): 3649,
}


def json_str(s):
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def label_of(rule, v):
    if rule == "bool":
        assert isinstance(v, (bool,)) or str(v) in ("True", "False"), v
        return 1 if str(v) == "True" else 0
    return int(v) - (1 if rule == "minus1" else 0)


def load(root, name, split):
    folder, fields, rule = SCHEMAS[name]
    if split == "test_originated":
        fields = SENTINEG_ORIGINATED
    df = pd.read_csv(os.path.join(root, folder, SPLIT_FILES[split]), sep="\t")
    docs = []
    for _, row in df.iterrows():
        doc = {}
        for hf, col in fields:
            v = row[col]
            assert not pd.isna(v), (name, split, col)
            if hf == "label":
                doc[hf] = label_of(rule, v)
                assert 0 <= doc[hf] < N_LABELS[name], (name, split, v)
            else:
                assert isinstance(v, str), (name, split, col, v)
                doc[hf] = v
        docs.append(doc)
    return docs


def canonical(docs):
    out = []
    for d in docs:
        parts = [json_str(k) + ": " + (str(v) if k == "label" else json_str(v)) for k, v in d.items()]
        out.append("{" + ", ".join(parts) + "}\n")
    return "".join(out).encode("utf-8")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "shared", "datasets", "kobest_v1")
    lines = ["# name\tsplit\tdocs\tsha256 of the canonical JSONL (scripts/make_dataset_goldens.py)\n"]
    for name in SCHEMAS:
        splits = ["train", "validation", "test"] + (["test_originated"] if name == "sentineg" else [])
        for split in splits:
            docs = load(root, name, split)
            want = REQUIRED.get((name, split))
            if want is not None and len(docs) != want:
                sys.exit(f"{name} {split}: pandas gives {len(docs)} docs, issue 2 requires {want}")
            digest = hashlib.sha256(canonical(docs)).hexdigest()
            lines.append(f"{name}\t{split}\t{len(docs)}\t{digest}\n")
            print(f"{name:10s} {split:16s} {len(docs):5d} {digest}")
    out = os.path.join(here, "..", "tests", "datasets", "goldens.tsv")
    with open(out, "w", encoding="utf-8") as f:
        f.writelines(lines)
    print("wrote", os.path.normpath(out))


if __name__ == "__main__":
    main()
