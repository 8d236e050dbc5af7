"""The one tokenizer both sides share: the store's BM25 index is built with it, the answering side
weighs question words with it. Below the store and the answering side (it imports neither), so
neither has to reach into the other for it: `tokenize`, `STOPWORDS` and the light stemmer `stem`.
"""
from __future__ import annotations

import functools
import re

# Words, numbers and dotted/hyphenated compounds ("01.AI", "U.S.", "GPT-4", "3.5", "1,000").
_TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\w+(?:[.\-'’]\w+)*", re.U)
STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does doing for from had has have
    having he her hers him his how i if in into is it its itself me my of on or our ours she so
    than that the their theirs them then there these they this those to too was we were what when
    where which while who whom whose why will with would you your yours about after all also am
    any because before between both during each few further here just more most no nor not now
    off once only other out over own same should some such through under until up very s t
    don doesn didn isn wasn aren weren won last""".split()
)


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light English suffix stripper: enough to match 'founded'/'founder'/'founding'."""
    if len(word) <= 4 or not word.isalpha():
        return word
    for suf in ("ations", "ation", "ings", "ing", "edly", "ers", "ies", "ed", "es", "er", "ly", "s"):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            word = word[: -len(suf)]
            return word + "y" if suf == "ies" else word
    return word


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased tokens; a compound like `01.ai` is kept whole and also split into its parts."""
    out: list[str] = []
    for m in _TOKEN.finditer(text.lower()):
        tok = m.group(0).replace("’", "'")
        if "," in tok:  # a number with thousands separators is one token: "1,000" == "1000"
            out.append(tok.replace(",", ""))
            continue
        if tok.endswith("'s"):
            tok = tok[:-2]
        parts = re.split(r"[.\-']", tok) if re.search(r"[.\-']", tok) else []
        if parts:
            out.append(tok)
            out.extend(stem(p) for p in parts if p and (keep_stopwords or p not in STOPWORDS))
        elif keep_stopwords or tok not in STOPWORDS:
            out.append(stem(tok))
    return out
