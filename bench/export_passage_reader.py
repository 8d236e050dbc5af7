"""Export the passage reader (bench/train_passage_reader.py) to the file citebot ships: ONNX, int8, no word table.

    python bench/export_passage_reader.py [--weights bench/out/passage_reader/checkpoint.pt] [--write]

The same steps as bench/export_reader.py (reader 1): PyTorch → ONNX (opset 17; outputs
`start_logits` and `end_logits`, one per word piece) → dynamic int8 quantisation of the matrix
products with per-channel 7-bit weights (`reduce_range`: AVX2 and VNNI CPUs then compute the same
integer sums, issue 27) → the word table (frozen in training) cut out and read from the bundled
model at load time, checked by sha256. `--weights` takes a run's checkpoint.pt or an fp16 seed
(`--export-seed`'s safetensors). The provenance file records the run (run.json and the held-out
curve up to the exported step), the ONNX sha256, the external table, and check rows on text written
for them (no dataset text is shipped) that the tests re-score on any CPU. It also prints how far the
int8 scores are from the fp32 model's on held-out SQuAD v2.0 part A passages.
With --write the two files go to index/answer/ (the package data); otherwise to --out.
"""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.export_reader import TABLE, bundled_word_table, cut_table, quantize, sha256_bytes  # noqa: E402
from bench.train_passage_reader import (  # noqa: E402
    EVAL,
    MAX_ANSWER_PIECES,
    OUT,
    QUESTION_PIECES,
    Amp,
    held_out,
    load_records,
    load_trainable,
    make_model,
    read,
    read_init,
)
from index import PassageReader  # noqa: E402

log = logging.getLogger("bench.export_passage_reader")
SHIPPED = ROOT / "index" / "answer"
STEM = "passage_reader"
OUTPUTS = ("start_logits", "end_logits")
# Written for the check rows: a passage that answers each question in one sentence, and one that does not.
FERRY = ("The Larkspur ferry first sailed across the bay on 3 May 1911. Its hull was designed by the naval "
         "architect Mira Okafor. The ferry carries about 400 passengers and their bicycles.")
CAFE = "The harbour café sells soup and bread every morning. It closes at noon on Sundays."
CHECKS = (
    ("When did the Larkspur ferry first sail?", FERRY),
    ("Who designed the Larkspur ferry?", FERRY),
    ("How many passengers does the ferry carry?", FERRY),
    ("Who designed the Larkspur ferry?", CAFE),
)


class _Logits(torch.nn.Module):
    """The reader with plain tensor outputs, for the exporter."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(input_ids, attention_mask, token_type_ids)


def export(model: torch.nn.Module, dest: Path) -> None:
    """fp32 ONNX: (input_ids, attention_mask, token_type_ids) → start_logits, end_logits."""
    dummy = torch.ones((2, 16), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Logits(model).eval(), (dummy, dummy, torch.zeros_like(dummy)), str(dest),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["start_logits", "end_logits"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids",
                                                                "start_logits", "end_logits")},
            opset_version=17, dynamo=False,
        )


def load_weights(path: Path, model: torch.nn.Module) -> dict:
    """Load a checkpoint.pt or an fp16 seed into `model`; returns what is known of the step."""
    if path.suffix == ".safetensors":
        weights, meta = read_init(path)
        load_trainable(model, weights)
        return {"weights": path.name, "step": int(meta.get("step", 0)), "examples_seen": int(meta.get("examples_seen", 0)),
                "precision": "fp16 seed"}
    ck = torch.load(path, weights_only=False, map_location="cpu")
    load_trainable(model, ck["model"])
    return {"weights": path.name, "step": int(ck["step"]), "examples_seen": int(ck["examples_seen"]),
            "steps_planned": int(ck["steps_planned"]), "train_minutes": round(ck["train_s"] / 60, 1),
            "curve": ck.get("curve", []), "run": ck.get("run", {}), "precision": "fp32 checkpoint"}


def kernel_check(reader: PassageReader, onnx_path: Path, table: np.ndarray, name: str) -> dict:
    """ONNX Runtime's logits on the check rows against NumPy evaluations of the same int8 graph: exact
    integer sums (VNNI) and AVX2's saturating u8×s8 pair sums (bench/reader_kernels.py)."""
    import onnx

    from bench.reader_kernels import cpu_name, reference_run, with_table

    m = with_table(onnx.load(str(onnx_path), load_external_data=False), table, name)
    gaps = {"ort": 0.0, "avx2": 0.0}
    spans = {"ort": 0, "avx2": 0}
    for q, passage in CHECKS:
        rows, feed = reader.inputs(q, [passage])
        exact = reader.reads([passage], rows, *reference_run(m, [feed], False, OUTPUTS)[0]).pop().best()
        for kind, got in (("ort", reader.read(q, [passage])[0].best()),
                          ("avx2", reader.reads([passage], rows, *reference_run(m, [feed], True, OUTPUTS)[0]).pop().best())):
            gaps[kind] = max(gaps[kind], abs(got[0] - exact[0]))
            spans[kind] += got[1:] == exact[1:]
    return {"cpu": cpu_name(), "rows": len(CHECKS), "ort_vs_exact_max_score_diff": round(gaps["ort"], 5),
            "avx2_vs_exact_max_score_diff": round(gaps["avx2"], 5), "ort_same_span": spans["ort"], "avx2_same_span": spans["avx2"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=OUT / "checkpoint.pt", help="checkpoint.pt, or a seed .safetensors")
    ap.add_argument("--out", type=Path, default=OUT / "export")
    ap.add_argument("--write", action="store_true", help="write to index/answer/ (the shipped files)")
    ap.add_argument("--checks", type=int, default=60, help="held-out passages for the int8-vs-fp32 comparison")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    base, table = bundled_word_table()
    model = make_model(base)
    source = load_weights(args.weights, model)
    model.eval()
    dest = SHIPPED if args.write else args.out
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        export(model, fp32)
        quantize(fp32, int8)
        name = cut_table(int8, dest / f"{STEM}.onnx", table)
    run = source.pop("run", {})
    hp = run.get("hparams", {})
    meta = {
        "format": "citebot-passage-reader/1",
        "what": "extractive reader: start and end logits per word piece of [CLS] question [SEP] passage [SEP]; "
                "[CLS]'s pair is no answer",
        "made_by": "bench/export_passage_reader.py from bench/train_passage_reader.py",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "licence": "weights derived from sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), fine-tuned on "
                   "SQuAD v1.1 train (CC BY-SA 4.0, Rajpurkar et al. 2016)"
                   + ("" if hp.get("v2_stage", "none") in (None, "none") else
                      f" and SQuAD v2.0 dev part A's questions (CC BY-SA 4.0, Rajpurkar, Jia & Liang 2018), "
                      f"{'every article fold' if hp['v2_stage'] == 'all' else 'every article fold but ' + str(hp['v2_stage'])}"),
        "training": {**{k: v for k, v in run.items() if k != "resumed"}, **source},
        "onnx_sha256": sha256_bytes((dest / f"{STEM}.onnx").read_bytes()),
        "inputs": ["input_ids", "attention_mask", "token_type_ids"], "outputs": ["start_logits", "end_logits"],
        "external": {"name": name, "from": f"bundled model model.safetensors:{TABLE}", "shape": list(table.shape),
                     "dtype": "float32", "sha256": sha256_bytes(np.ascontiguousarray(table).tobytes())},
        "max_len": int(hp.get("max_len", 256)), "overlap": int(hp.get("overlap", 64)),
        "question_pieces": QUESTION_PIECES, "max_answer_pieces": MAX_ANSWER_PIECES,
        "quantization": "onnxruntime quantize_dynamic, MatMul only, per-channel QInt8, reduce_range (7-bit weights)",
    }
    (dest / f"{STEM}.json").write_text(json.dumps(meta, indent=1) + "\n")
    reader = PassageReader(dest)
    # int8 against fp32 on held-out passages (answerable ones, their own paragraph).
    from transformers import AutoTokenizer

    records = load_records(EVAL)
    sample = held_out(records, args.checks, 1)[0]
    tok = AutoTokenizer.from_pretrained(str(base))
    want = read(model, tok, sample, torch.device("cpu"), Amp(torch.device("cpu"), "off"), meta["max_len"], meta["overlap"])
    got = [reader.read(ex.question, [ex.context])[0].best() for ex in sample]
    diff = np.abs(np.array([g[0] for g in got]) - np.array([w[0] for w in want]))
    same_span = float(np.mean([(g[1], g[2]) == (w[1], w[2]) for g, w in zip(got, want)]))
    log.info("int8 vs fp32 on %d passages: mean |score diff| %.3f, max %.3f; same best span %.2f",
             len(sample), diff.mean(), diff.max(), same_span)
    meta["int8_vs_fp32"] = {"passages": len(sample), "mean_abs_diff": round(float(diff.mean()), 4),
                            "max_abs_diff": round(float(diff.max()), 4), "same_best_span": round(same_span, 3)}
    meta["kernels"] = kernel_check(reader, dest / f"{STEM}.onnx", table, name)
    # What a check row's score may move between CPUs: 1.5 × the largest gap found between ONNX Runtime
    # here and the exact integer evaluation (what VNNI computes; AVX2 computes the same with 7-bit weights).
    meta["check_tolerance"] = round(max(0.02, 1.5 * max(meta["kernels"]["ort_vs_exact_max_score_diff"],
                                                      meta["kernels"]["avx2_vs_exact_max_score_diff"])), 4)
    rows = []
    for q, passage in CHECKS:
        score, a, b = reader.read(q, [passage])[0].best()
        rows.append({"question": q, "passage": passage, "score": round(score, 5), "span": passage[a:b]})
    meta["check_rows"] = rows
    (dest / f"{STEM}.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps({"dest": str(dest), "onnx_bytes": (dest / f"{STEM}.onnx").stat().st_size, **source,
                      **meta["int8_vs_fp32"], "checks": [(r["question"], r["span"], r["score"]) for r in rows]}))


if __name__ == "__main__":
    main()
