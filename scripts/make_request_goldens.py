#!/usr/bin/env python3
"""make_request_goldens.py — goldens for tests/tasks, made by lm-eval 0.4.13 itself, offline.

  python scripts/make_request_goldens.py [--data ../shared/datasets/kobest_v1] [--out tests/tasks/goldens]

Needs: pip install lm-eval==0.4.13 pandas (no torch). What it writes:
  requests_{0,5}shot.jsonl.gz  lm-eval's Instance.arguments for the test split of every kobest task,
                               as koeval prints them (`koeval requests`): one JSON line per request
                               {"task","doc_id","choice","context","continuation"}
                               (json.dumps(ensure_ascii=False), default separators), for the first
                               40 docs and the doc ids in spread_ids.txt;
  spread_ids.txt               "task id id ..." — the spread-out doc ids kept beside the first 40;
  manifest.txt                 "task shots n_requests sha256" of lm-eval's FULL request list per
                               task (every doc), and "total 0 <n>" for all five tasks at 0-shot;
  pyrandom.txt                 CPython random.Random numbers for tests/tasks/test_pyrandom.c.

lm-eval reads skt/kobest_v1 from the Hugging Face hub; here datasets.load_dataset is replaced by a
builder of the same DatasetDict from the KoBEST TSVs (pandas.read_csv(sep="\\t"), every field as
its exact text, columns renamed to the HF field names, labels to ints), so no network is needed.
The few-shot seed is lm-eval's default 1234, set exactly as lm_eval.evaluator.simple_evaluate does.
"""
import argparse
import gzip
import hashlib
import json
import os
import random

import datasets
import pandas as pd

TASKS = ["kobest_boolq", "kobest_copa", "kobest_hellaswag", "kobest_sentineg", "kobest_wic"]
FOLDER = {"boolq": "BoolQ", "copa": "COPA", "wic": "WiC", "hellaswag": "HellaSwag", "sentineg": "SentiNeg"}
FILE = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}


def truth(s):
    s = s.strip().lower()
    if s not in ("true", "false"):
        raise ValueError(f"not a boolean: {s!r}")
    return 1 if s == "true" else 0


def read_split(data, name, split):
    path = os.path.join(data, FOLDER[name], FILE["test" if split == "test_originated" else split])
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if name == "boolq":
        rows = {"paragraph": df["Text"], "question": df["Question"], "label": df["Answer"].map(truth)}
    elif name == "copa":
        rows = {"premise": df["sentence"], "question": df["question"], "alternative_1": df["1"],
                "alternative_2": df["2"], "label": df["Answer"].astype(int) - 1}
    elif name == "wic":
        rows = {"word": df["Target"], "context_1": df["SENTENCE1"], "context_2": df["SENTENCE2"],
                "label": df["ANSWER"].map(truth)}
    elif name == "hellaswag":
        rows = {"context": df["context"], **{f"ending_{i}": df[f"choice{i}"] for i in range(1, 5)},
                "label": df["label"].astype(int)}
    elif split == "test_originated":
        rows = {"sentence": df["Text_origin"], "label": df["Label_origin"].astype(int)}
    else:
        rows = {"sentence": df["Text"], "label": df["Label"].astype(int)}
    out = pd.DataFrame({k: list(v) for k, v in rows.items()})
    return datasets.Dataset.from_pandas(out, preserve_index=False)


def fake_load_dataset(data):
    def load_dataset(path=None, name=None, **kwargs):
        assert path == "skt/kobest_v1", path
        splits = ["train", "validation", "test"] + (["test_originated"] if name == "sentineg" else [])
        return datasets.DatasetDict({s: read_split(data, name, s) for s in splits})
    return load_dataset


def lm_eval_requests(task_obj, name, shots, seed=1234):
    """The Instance arguments lm-eval builds, set up as simple_evaluate does."""
    task_obj.set_config(key="num_fewshot", value=shots)
    task_obj.set_fewshot_seed(seed=seed)
    task_obj.build_all_requests(limit=None, rank=0, world_size=1)
    lines = []
    for inst in task_obj.instances:
        ctx, cont = inst.arguments
        lines.append(json.dumps({"task": name, "doc_id": inst.doc_id, "choice": inst.idx,
                                 "context": ctx, "continuation": cont}, ensure_ascii=False))
    return lines


def spread(n):
    ids = list(range(40, n, max(1, n // 12))) + [n - 1]
    return sorted(set(i for i in ids if i >= 40))


def pyrandom_goldens(path):
    seeds = [0, 1, 42, 1234, 2**32 - 1, 2**32 + 5, 2**40 + 3]
    cases = [(3665, 5), (3665, 6), (10, 5), (21, 5), (22, 5), (85, 10), (86, 10), (5, 5), (100, 30), (3076, 6)]
    with open(path, "w") as f:
        f.write("# seed op args : results (CPython random.Random; see scripts/make_request_goldens.py)\n")
        for seed in seeds:
            r = random.Random(seed)
            f.write(f"{seed} u32 20 : {' '.join(str(r.getrandbits(32)) for _ in range(20))}\n")
            f.write(f"{seed} bits 7,1,33,64,13 : {' '.join(str(r.getrandbits(k)) for k in (7, 1, 33, 64, 13))}\n")
            f.write(f"{seed} below 1,2,3,1000,3665,4294967296 : "
                    f"{' '.join(str(r._randbelow(n)) for n in (1, 2, 3, 1000, 3665, 4294967296))}\n")
            f.write(f"{seed} random 3 : {' '.join(repr(r.random()) for _ in range(3))}\n")
            for n, k in cases:
                f.write(f"{seed} sample {n},{k} : {' '.join(str(x) for x in r.sample(range(n), k))}\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "datasets", "kobest_v1"))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "tasks", "goldens"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    import lm_eval.api.task as api_task
    from lm_eval.tasks import TaskManager
    datasets.load_dataset = api_task.datasets.load_dataset = fake_load_dataset(a.data)

    manifest, spreads = [], []
    total0 = 0
    kept = {0: [], 5: []}
    for shots in (0, 5):
        tm = TaskManager()
        for name in TASKS:
            task_obj = tm.load_task_or_group([name])[name]
            lines = lm_eval_requests(task_obj, name, shots)
            n_docs = len(task_obj.eval_docs)
            blob = "".join(l + "\n" for l in lines).encode()
            manifest.append(f"{name} {shots} {len(lines)} {hashlib.sha256(blob).hexdigest()}")
            ids = spread(n_docs)
            if shots == 0:
                total0 += len(lines)
                spreads.append(f"{name} " + " ".join(map(str, ids)))
            keep = set(range(40)) | set(ids)
            kept[shots] += [l for l in lines if json.loads(l)["doc_id"] in keep]
    manifest.append(f"total 0 {total0}")
    for shots, lines in kept.items():
        with gzip.GzipFile(os.path.join(a.out, f"requests_{shots}shot.jsonl.gz"), "wb", mtime=0) as f:
            f.write("".join(l + "\n" for l in lines).encode())
    with open(os.path.join(a.out, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    with open(os.path.join(a.out, "spread_ids.txt"), "w") as f:
        f.write("\n".join(spreads) + "\n")
    pyrandom_goldens(os.path.join(a.out, "pyrandom.txt"))
    print("\n".join(manifest))


if __name__ == "__main__":
    main()
