#!/usr/bin/env python3
"""make_metric_goldens.py — goldens for tests/tasks/test_metrics.c and tests/reports, made by
lm-eval 0.4.13 itself (and scikit-learn), offline.

  python scripts/make_metric_goldens.py [--data ../shared/datasets/kobest_v1] [--out tests/reports/goldens]

Needs: pip install lm-eval==0.4.13 scikit-learn pandas (no torch). Takes about a minute.

lm-eval runs the kobest group (its name in 0.4.13 is "kobest") through simple_evaluate with a
scripted model (a subclass of lm_eval.api.model.LM) whose loglikelihood() returns made-up but
deterministic values, then saves what it computed exactly as `lm_eval --output_path D
--log_samples` does (EvaluationTracker.save_results_aggregated / save_results_samples) and prints
make_table(). The datasets come from the KoBEST TSVs (scripts/make_request_goldens.py's builder).
The scenarios (one lm-eval run each):

  hash    0-shot, limit 40: ll = a hash of (context, continuation); half of the values are coarse
          (multiples of 0.5, so ties happen and numpy.argmax's first-index rule is exercised)
  hash5   5-shot, limit 12, fewshot seed 1234, the same hash
  right   0-shot, limit 25: the gold choice always wins (acc = f1 = 1)
  wrong   0-shot, limit 25: the choice after the gold always wins (acc = 0)
  tie     0-shot, limit 25: every choice -1.0 (argmax ties: class 0 always predicted, one class
          never predicted; acc_norm then decides by the choice's length)
  one     0-shot, limit 1: one document (stderr "N/A" since len(items) == 1)
  solo    0-shot, limit 10, the five tasks named one by one instead of the group
  full    0-shot, no limit: every test document, the same hash (its lls file is not written: the
          test recomputes hash_ll, which is why is_greedy there is bit 0 of the digest's byte 9)

Written per scenario S (gzip, mtime 0):
  S.lls.tsv.gz       task \t doc_id \t choice \t ll (repr) \t is_greedy (0/1): every request's answer
  S.results.json.gz  lm-eval's results file (results_<date>.json), as written
  S.samples.jsonl.gz lm-eval's samples files (samples_<task>_<date>.jsonl), concatenated in task order
                     (for hash, hash5, tie and one only)
  S.table.md         lm-eval's make_table(results) and make_table(results, "groups"), as printed
  S.boot.tsv         task \t iters \t bootstrap stderr of kobest's macro_f1_score, by lm-eval's own
                     lm_eval.api.metrics.bootstrap_stderr over the task's (gold, pred) items
                     (lm-eval itself reports "N/A" for f1: macro_f1_score is not in its
                     bootstrappable list; koeval reports this figure in its own section)
float_repr.tsv (float.hex, repr) for koeval's float formatting; boot_big.tsv: lm-eval's
bootstrap_stderr on full-size synthetic (gold, pred) lists (bootstrap_cases says which); and
f1_sklearn.tsv: sklearn.metrics.f1_score(average="macro") on crafted label sets
  (name \t golds (comma list) \t preds \t f1 repr).
"""
import argparse
import glob
import gzip
import hashlib
import json
import os
import shutil
import sys
import tempfile

os.environ["DISABLE_MULTIPROC"] = "1"   # bootstrap in-process (same numbers as the pool)
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402
import make_request_goldens as mrg  # noqa: E402

TASKS = mrg.TASKS


def hash_ll(ctx, cont):
    h = hashlib.sha256((ctx + "\x00" + cont).encode("utf-8")).digest()
    u = int.from_bytes(h[:8], "big") / 2.0**64
    if h[8] & 1:
        return -float(int(u * 8)) / 2.0          # coarse: ties
    return -u * 20.0


def gold_of(inst):
    """The gold index as lm-eval's process_results computes it."""
    task = inst.task_obj
    gold = task.doc_to_target(inst.doc)
    choices = task.doc_to_choice(inst.doc)
    if isinstance(gold, str):
        gold = choices.index(gold)
    return gold, len(choices)


SCENARIOS = {
    # name: (num_fewshot, limit, fn(inst) -> ll)
    "hash": (0, 40, lambda inst: hash_ll(*inst.args)),
    "hash5": (5, 12, lambda inst: hash_ll(*inst.args)),
    "right": (0, 25, lambda inst: 0.0 if inst.idx == gold_of(inst)[0] else -2.5),
    "wrong": (0, 25, lambda inst: 0.0 if inst.idx == (gold_of(inst)[0] + 1) % gold_of(inst)[1] else -2.5),
    "tie": (0, 25, lambda inst: -1.0),
    "one": (0, 1, lambda inst: hash_ll(*inst.args)),
    "solo": (0, 10, lambda inst: hash_ll(*inst.args)),
    "full": (0, None, lambda inst: hash_ll(*inst.args)),
}
# "full" scores every document of the five test splits (10,122 requests); its log-likelihoods are
# not committed: the test recomputes hash_ll in C (and is_greedy = byte 9 of the same digest).
NO_LLS = {"full"}
SOLO = {"solo"}   # the five tasks named one by one (no group: no "groups", make_table flat)


WITH_SAMPLES = {"hash", "hash5", "tie", "one"}   # the others' samples files would add nothing


def make_lm(fn, log, name):
    from lm_eval.api.model import LM

    class ScriptedLM(LM):
        def loglikelihood(self, requests):
            out = []
            for inst in requests:
                ll = fn(inst)
                if name in NO_LLS:
                    greedy = bool(hashlib.sha256((inst.args[0] + "\x00" + inst.args[1]).encode()).digest()[9] & 1)
                else:
                    greedy = bool(hashlib.sha256(repr(inst.args).encode()).digest()[0] & 1)
                log.append((inst.task_name, inst.doc_id, inst.idx, ll, greedy))
                out.append((ll, greedy))
            return out

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

        def generate_until(self, requests):
            raise NotImplementedError

    return ScriptedLM()


def run_scenario(name, shots, limit, fn, out):
    import lm_eval
    from lm_eval.api.metrics import bootstrap_stderr
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks.kobest.utils import macro_f1_score
    from lm_eval.utils import make_table

    log = []
    tm = TaskManager()
    loaded = tm.load_task_or_group(TASKS if name in SOLO else ["kobest"])
    tasks_by_name = {}

    def collect(d):
        for v in d.values() if isinstance(d, dict) else []:
            if isinstance(v, dict):
                collect(v)
            elif hasattr(v, "config"):
                tasks_by_name[v.config.task] = v
    collect(loaded)
    import lm_eval.api.instance as inst_mod
    inst_mod.Instance.task_obj = property(lambda self: tasks_by_name[self.task_name])

    tmp = tempfile.mkdtemp()
    tracker = EvaluationTracker(output_path=tmp)
    model_args = "pretrained=koeval/scripted-" + name
    tracker.general_config_tracker.log_experiment_args(
        model_source="scripted", model_args=model_args, system_instruction=None,
        chat_template=None, fewshot_as_multiturn=False)
    results = lm_eval.simple_evaluate(
        model=make_lm(fn, log, name), model_args=model_args, tasks=TASKS if name in SOLO else ["kobest"], num_fewshot=shots,
        limit=limit, log_samples=True, task_manager=tm, evaluation_tracker=tracker,
        fewshot_random_seed=1234)
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])

    (res_file,) = glob.glob(os.path.join(tmp, "*", "results_*.json"))
    with open(res_file, "rb") as f, gzip.GzipFile(os.path.join(out, f"{name}.results.json.gz"), "wb", mtime=0) as g:
        g.write(f.read())
    with gzip.GzipFile(os.path.join(out, f"{name}.samples.jsonl.gz"), "wb", mtime=0) if name in WITH_SAMPLES else open(os.devnull, "wb") as g:
        for t in TASKS:
            (sf,) = glob.glob(os.path.join(tmp, "*", f"samples_{t}_*.jsonl"))
            with open(sf, "rb") as f:
                g.write(f.read())
    shutil.rmtree(tmp)

    log.sort(key=lambda r: (TASKS.index(r[0]), r[1], r[2]))
    with gzip.GzipFile(os.path.join(out, f"{name}.lls.tsv.gz"), "wb", mtime=0) if name not in NO_LLS else open(os.devnull, "wb") as g:
        for t, d, c, ll, gr in log:
            g.write(f"{t}\t{d}\t{c}\t{ll!r}\t{int(gr)}\n".encode())
    with open(os.path.join(out, f"{name}.table.md"), "w") as f:
        f.write(make_table(results) + "\n")
        if "groups" in results:
            f.write(make_table(results, "groups") + "\n")

    # Bootstrap stderr of kobest's F1 by lm-eval's own procedure (it reports "N/A" itself).
    iters = 2000 if name == "hash" else 1000
    with open(os.path.join(out, f"{name}.boot.tsv"), "w") as f:
        for t in TASKS:
            items = [(s["f1"][0], s["f1"][1]) for s in samples[t]]
            if len(items) > 1:
                f.write(f"{t}\t{iters}\t{bootstrap_stderr(macro_f1_score, items, iters)!r}\n")
    print(name, {k: {m: v for m, v in r.items() if "," in m} for k, r in results["results"].items()})


def sklearn_cases(out):
    from sklearn.metrics import f1_score
    cases = [
        ("balanced", [0, 1, 0, 1], [0, 1, 1, 0]),
        ("all_right", [0, 1, 1, 0, 1], [0, 1, 1, 0, 1]),
        ("all_wrong", [0, 1, 1, 0, 1], [1, 0, 0, 1, 0]),
        ("never_pred_1", [0, 1, 1, 0, 1], [0, 0, 0, 0, 0]),
        ("never_pred_0", [0, 1, 1, 0, 1], [1, 1, 1, 1, 1]),
        ("gold_one_class", [1, 1, 1, 1], [1, 0, 1, 1]),
        ("single_label", [1, 1, 1], [1, 1, 1]),
        ("single_wrong", [0], [1]),
        ("four_way", [0, 1, 2, 3, 3, 2, 1, 0, 2], [0, 1, 2, 0, 3, 3, 3, 0, 1]),
        ("four_way_missing", [0, 1, 2, 2, 1], [0, 3, 3, 2, 1]),
        ("four_way_no_pred_2", [0, 1, 2, 3, 2, 2], [0, 1, 1, 3, 0, 3]),
        ("pred_only_label", [0, 0, 0], [3, 3, 0]),
    ]
    with open(os.path.join(out, "f1_sklearn.tsv"), "w") as f:
        f.write("# name\tgolds\tpreds\tsklearn f1_score(average='macro')\n")
        for n, g, p in cases:
            f.write(f"{n}\t{','.join(map(str, g))}\t{','.join(map(str, p))}\t{float(f1_score(g, p, average='macro'))!r}\n")


def float_repr_cases(out):
    """Python repr(float), which json.dumps and lm-eval's str() of responses write."""
    import math
    import random
    rnd = random.Random(7)
    xs = [0.0, -0.0, 0.1, 1.0, -3.0, 2.5, 100.0, 1e-05, 0.0001, 1.5e-07, 1e16, 1e15, 123456789012345.6,
          1234567890123456.0, 1e22, 5e-324, 1.7976931348623157e308, 0.07499999999999998, 1 / 3, 2 / 3,
          0.6747967479674797, 1796157170.8673017, math.pi * 1e-5, 9.999999999999999e15]
    xs += [rnd.uniform(-30, 0) for _ in range(40)] + [rnd.random() ** 9 for _ in range(20)]
    xs += [math.ldexp(rnd.random(), rnd.randint(-60, 60)) for _ in range(40)]
    with open(os.path.join(out, "float_repr.tsv"), "w") as f:
        f.write("# float.hex(x)\trepr(x)\n")
        for x in xs:
            f.write(f"{x.hex()}\t{x!r}\n")


def bootstrap_cases(out):
    """lm-eval's bootstrap_stderr of kobest's macro_f1_score on full-size synthetic item lists:
    binary: gold = i % 2, pred = (i * 7 // 3) % 2 (n 1404, as boolq's test split);
    four:   gold = (i * 5) % 4, pred = (i * i + i // 3) % 4 (n 500, as hellaswag's)."""
    from lm_eval.api.metrics import bootstrap_stderr
    from lm_eval.tasks.kobest.utils import macro_f1_score
    cases = [("binary", 1404, 10000, lambda i: (i % 2, (i * 7 // 3) % 2)),
             ("four", 500, 3000, lambda i: ((i * 5) % 4, (i * i + i // 3) % 4))]
    with open(os.path.join(out, "boot_big.tsv"), "w") as f:
        for name, n, iters, item in cases:
            items = [item(i) for i in range(n)]
            f.write(f"{name}\t{n}\t{iters}\t{bootstrap_stderr(macro_f1_score, items, iters)!r}\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "datasets", "kobest_v1"))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "reports", "goldens"))
    ap.add_argument("--only", default=None, help="one scenario only (a name that is none: only the static files)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    import lm_eval.api.task as api_task
    datasets.load_dataset = api_task.datasets.load_dataset = mrg.fake_load_dataset(a.data)
    for name, (shots, limit, fn) in SCENARIOS.items():
        if a.only and name != a.only:
            continue
        run_scenario(name, shots, limit, fn, a.out)
    sklearn_cases(a.out)
    float_repr_cases(a.out)
    if not a.only or a.only == "boot_big":
        bootstrap_cases(a.out)


if __name__ == "__main__":
    main()
