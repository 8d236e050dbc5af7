"""The optional cross-encoder reranker: real sentence-transformers CrossEncoder code, a tiny local model.

No real cross-encoder can be downloaded here, so the model is a 1-layer BERT with the bundled
model's vocabulary, built and saved by the test: its scores mean nothing, which is enough to
check the loading, scoring and re-ordering paths. What a reranker does to answers is checked with
a reranker whose scores prefer one article.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.answer.rerank import CrossEncoderReranker
from index.answer.search import HybridSearcher
from index.engine import Engine
from index.errors import UserError


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from index.model.embed import resolve_model

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512, num_labels=1)
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    BertForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_real_cross_encoder_scores_and_reorders(tiny_cross_encoder: Path, engine: Engine) -> None:
    rr = CrossEncoderReranker(str(tiny_cross_encoder), depth=4)
    hits = HybridSearcher(engine.reader, engine.embedder).search("who founded 01.AI?", k=6)
    scores = rr.scores("who founded 01.AI?", [h.text for h in hits[:4]])
    assert len(scores) == 4 and scores == rr.scores("who founded 01.AI?", [h.text for h in hits[:4]])
    out = rr.rerank("who founded 01.AI?", hits)
    assert [h.passage_id for h in out[:4]] == [hits[i].passage_id for i in sorted(range(4), key=lambda i: -scores[i])]
    assert out[4:] == hits[4:], "hits below the depth keep their order"


class _PrefersTitle(CrossEncoderReranker):
    """A reranker whose judgement is known: passages of one article first."""

    def __init__(self, title_word: str) -> None:
        super().__init__("prefers-title", depth=10)
        self.word = title_word
        self.calls = 0

    def warm_up(self) -> None:
        pass

    def scores(self, question: str, texts):  # type: ignore[no-untyped-def]
        self.calls += 1
        return [1.0 if self.word in t.lower() else 0.0 for t in texts]


def test_citations_follow_the_reranker(examples_index: Path, embedder) -> None:
    question = "When does the garden open its plots?"
    plain = Engine(examples_index, embedder).ask(question)
    assert plain.found and "garden" in plain.citations[0].title.lower()
    others = [c for c in list(plain.citations) + list(plain.more) if c.answer_start is None]
    assert "python" not in others[0].title.lower(), "retrieval alone does not rank the Python notes next"
    # A reranker that prefers the Python release notes: they become the next sources shown.
    rr = _PrefersTitle("python")
    ranked = Engine(examples_index, embedder, reranker=rr).ask(question)
    assert rr.calls == 1
    assert ranked.found and "garden" in ranked.citations[0].title.lower(), "the answer still comes from the garden article"
    others = [c for c in list(ranked.citations) + list(ranked.more) if c.answer_start is None]
    assert "python" in others[0].title.lower()
    assert [c.n for c in list(ranked.citations) + list(ranked.more)] == list(range(1, len(others) + 2))


def test_unloadable_reranker_is_a_clear_error(tmp_path: Path) -> None:
    rr = CrossEncoderReranker(str(tmp_path / "no-such-model"))
    with pytest.raises(UserError, match="CITEBOT_RERANK_MODEL"):
        rr.warm_up()


def test_cli_uses_the_configured_reranker(tiny_cross_encoder: Path, examples_index: Path, tmp_path: Path) -> None:
    from tests.bot.test_cli import run

    env = {"CITEBOT_RERANK_MODEL": str(tiny_cross_encoder), "CITEBOT_RERANK_DEPTH": "5"}
    r = run("ask", "--index", str(examples_index), "--json", "who founded 01.AI?", env=env)
    assert r.returncode in (0, 1), r.stderr
    out = json.loads(r.stdout)
    assert out["question"] == "who founded 01.AI?" and out["citations"]
    # The setting is really read: a model that cannot be loaded is a clear error, not a traceback.
    r = run("ask", "--index", str(examples_index), "who founded 01.AI?", env={"CITEBOT_RERANK_MODEL": str(tmp_path / "nothing")})
    assert r.returncode == 1 and "CITEBOT_RERANK_MODEL" in r.stderr and "Traceback" not in r.stderr


def test_blank_setting_means_no_reranker(monkeypatch) -> None:
    from bot.config import Settings

    monkeypatch.setenv("CITEBOT_RERANK_MODEL", "")
    assert Settings().rerank_model is None
    monkeypatch.setenv("CITEBOT_RERANK_DEPTH", "1")
    with pytest.raises(Exception, match="greater than or equal to 2"):
        Settings()


def test_only_a_model_named_from_the_hub_may_use_the_network(monkeypatch, tiny_cross_encoder: Path) -> None:
    from bot.cli import needs_hub
    from bot.config import Settings

    assert not needs_hub(Settings()), "the bundled model alone: citebot stays offline"
    monkeypatch.setenv("CITEBOT_RERANK_MODEL", str(tiny_cross_encoder))
    assert not needs_hub(Settings()), "a local folder needs no network"
    monkeypatch.setenv("CITEBOT_RERANK_MODEL", "cross-encoder/ms-marco-MiniLM-L6-v2")
    assert needs_hub(Settings())
