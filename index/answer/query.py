"""A question, prepared once: validated, tokenized, typed, weighed and embedded.

Retrieval (index/answer/search.py) and the answer composer (index/answer/compose.py) both read the one `Query`
built here instead of re-deriving what they need from the question text.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ..errors import UserError
from ..model.embed import Embedder, TokenEmbedder
from ..types import Query
from ..words import tokenize

EMPTY_QUESTION = "Ask a question, e.g. `who founded 01.AI?`"

_AUX = r"(?:did|does|do|was|were|is|are|will|would|has|have|had|can|could)"
_LEAD = {"who": "who", "whom": "who", "whose": "who", "when": "when", "where": "where"}


def question_type(question: str) -> str | None:
    """Coarse answer type: who / when / number / where, or None.

    The question's own wh-word decides first ("Where was it held when ..." asks for a place); a
    "when" or "who" further in counts only as a question word ("... and when did it open?"), not as
    a subordinate clause ("What was used when Sky launched?") or a name ("Doctor Who"); a "where"
    further in still asks for a place ("the stadium where it was played").
    """
    q = question.lower().strip()
    lead = re.match(r"^\W*(\w+)", q)
    if lead and lead.group(1) in _LEAD:
        return _LEAD[lead.group(1)]
    if re.search(r"\b(which|what) (person|people|company|team|man|woman|group|organi[sz]ation|president|king|queen|emperor|scientist|player|coach|author|founder)\b", q) or re.search(r"\bwho\b", question.strip()[:40]):
        return "who"
    if re.search(rf"\b(what|which) (years?|date|day|month|time|century|decade|era)\b|\bin which year\b|\bwhen {_AUX}\b", q):
        return "when"
    if re.search(r"\bhow (many|much|long|old|far|big|large|tall|high|often|fast)\b|\bwhat (percentage|percent|number|amount|proportion|fraction)\b", q):
        return "number"
    if re.search(r"\b(what|which) (city|country|state|place|region|continent|town|location)\b|\bwhere\b", q):
        return "where"
    return None


def clean_question(question: str) -> str:
    """The question without surrounding whitespace; an empty one is a friendly UserError."""
    text = question.strip()
    if not text:
        raise UserError(EMPTY_QUESTION)
    return text


def build_query(
    text: str,
    embedder: Embedder,
    *,
    typed: str | None = None,
    idf: Callable[[Iterable[str]], Mapping[str, float]] | None = None,
    vector: np.ndarray | None = None,
    context: str = "",
    prefer: tuple[str, ...] = (),
    lighter: Iterable[str] = (),
    lighter_weight: float = 1.0,
    embed_text: str | None = None,
) -> Query:
    """The Query for an already cleaned question `text` (see `clean_question`).

    `typed` is the question as the user typed it (default: `text`); `idf` gives the index's
    weight of each term (none: the composer guesses them). The question is embedded here, with
    its token vectors when the embedder gives them, unless `vector` is passed in (benchmarks
    embed their questions in one batch; the composer then asks for the token vectors itself).
    `context` and `prefer` carry a follow-up's conversation into retrieval (index/answer/followup.py);
    terms in `lighter` (the name a pronoun was read as) weigh `lighter_weight` times their idf when
    a sentence is chosen, so the quote is the one that answers, not merely the one naming the subject.
    `embed_text` is what the vectors are made of when not `text` itself (a follow-up's own words).
    """
    tokens = tuple(tokenize(text))
    weights = dict(idf(list(dict.fromkeys(tokens)))) if idf is not None else {}
    light = set(lighter)
    if light and weights and lighter_weight != 1.0:
        weights = {t: w * lighter_weight if t in light else w for t, w in weights.items()}
    token_vectors = None
    if vector is None:
        if isinstance(embedder, TokenEmbedder):
            vecs, toks = embedder.encode_tokens([embed_text or text])
            vector, token_vectors = vecs[0], toks[0]
        else:
            vector = embedder.encode([embed_text or text])[0]
    return Query(text=text, typed=text if typed is None else typed, tokens=tokens, qtype=question_type(text),
                 term_weights=weights, vector=vector, token_vectors=token_vectors, context=context, prefer=prefer)
