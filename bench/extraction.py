"""How faithfully citebot turns real web pages into the text it indexes (issue 13).

For each of the 181 news pages in ../shared/webpages (Article Extraction Benchmark: the page as
served plus the article body a person marked, `articleBody`) this loads the page with citebot's own
HTML reader, chunks it as ingest does, and compares the *indexed text* (the union of the passages'
spans, in article order, with structure marks such as "## " or "- " removed) with the true body:

- word-level precision / recall / F1, mean over pages, and the pages below F1 0.5;
- sentence wholeness: of the true body's sentences (split with citebot's own splitter, per
  line of the marked body; compared on letters and digits only), the share that lies whole inside one passage — of all of them, and of those whose
  words the indexed text has at all (a sentence the extractor lost is a recall miss, not a cut);
- characters of indexed text that are not in the true body (furniture let in);
- URL agreement with ground-truth.json (exact, and normalised as `_norm_url` documents);
- date agreement (issue 24): on the pages whose own metadata states a publication date (JSON-LD
  `datePublished`, or `article:published_time` / `itemprop=datePublished` / `pubdate` & co.,
  read here independently of index/ingest/dates.py), the day citebot records against the day that
  statement writes; a UTC timestamp whose neighbouring day the page's URL or byline shows (or
  another of its statements that the byline agrees with) counts apart ("the site's own day"), and
  `--dates` lists every disagreement.

Tokenisation: the benchmark (evaluate.py) lower-cases and splits on whitespace, and counts shared
tokens as multisets. `--tokens ws` does exactly that; the default `--tokens words` additionally
strips punctuation from both ends of each token (so "said," and "said" match, and a stray "##" or
"•" is not a word), dropping tokens that are only punctuation. Both are printed.

    python bench/extraction.py                 # summary
    python bench/extraction.py --worst 10      # plus the worst pages
    python bench/extraction.py --meta 30       # plus title / date / url of 30 pages (for RESULTS.md)
    python bench/extraction.py --urls          # plus the pages whose URL disagrees
    python bench/extraction.py --dates         # plus the pages whose date disagrees with their metadata
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index import LoadError, load_bytes, sentences, strip_marks  # noqa: E402
from index import chunk_article as chunk  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "webpages"
_EDGE = re.compile(r"^\W+|\W+$")


def tokens(text: str, mode: str) -> list[str]:
    """Lower-cased whitespace tokens; in 'words' mode also stripped of edge punctuation."""
    toks = text.lower().split()
    if mode == "ws":
        return toks
    out = []
    for t in toks:
        t = _EDGE.sub("", t)
        if t:
            out.append(t)
    return out


def prf(pred: str, true: str, mode: str) -> tuple[float, float, float]:
    """Multiset word overlap: precision, recall, F1 (1.0 each when both are empty)."""
    p, t = Counter(tokens(pred, mode)), Counter(tokens(true, mode))
    if not p and not t:
        return 1.0, 1.0, 1.0
    common = sum((p & t).values())
    prec = common / sum(p.values()) if p else 0.0
    rec = common / sum(t.values()) if t else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1


def indexed_text(text: str, title: str | None) -> tuple[str, list[str]]:
    """The text ingest indexes (union of passage spans, marks removed) and each passage's text."""
    ps = chunk(text, title=title)
    spans: list[list[int]] = []
    for p in sorted(ps, key=lambda p: p.start):
        if spans and p.start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], p.end)
        else:
            spans.append([p.start, p.end])
    body = "\n\n".join(strip_marks(text[s:e]) for s, e in spans)
    return body, [strip_marks(p.text) for p in ps]


def _squash(s: str) -> str:
    return " ".join(tokens(s, "words"))


def _glued(s: str) -> str:
    """Letters and digits only, no spaces: the marked body spaces inline tags ("Boeing 's",
    "expand ed", "(CNN) President") where the page itself has none ("Boeing's", "(CNN)President")."""
    return re.sub(r"[\W_]+", "", s.lower())


def true_sentences(true: str) -> list[str]:
    """The true body's sentences: citebot's splitter on each line. The marked body is not
    hard-wrapped: its single newlines are the page's own line breaks (<br>, list items), so each
    line is split on its own."""
    out = []
    for line in true.split("\n"):
        for s, e in sentences(line):
            if _squash(line[s:e]):
                out.append(line[s:e])
    return out


def wholeness(true: str, passages: list[str], indexed: str) -> tuple[int, int, int]:
    """(sentences of the true body, of them whole inside one passage, of them present in the index).

    A sentence is whole when one passage contains all of its letters and digits in order (spaces
    and punctuation ignored, see `_glued`); present when the indexed text has its first and second
    halves (maybe in different passages: a cut) or all of it.
    """
    flat = [_glued(p) for p in passages]
    idx = _glued(indexed)
    total = whole = present = 0
    for sent in true_sentences(true):
        words = _squash(sent).split()
        total += 1
        g = _glued(sent)
        half = len(words) // 2
        if g in idx or (len(words) >= 4 and _glued(" ".join(words[:half])) in idx and _glued(" ".join(words[half:])) in idx):
            present += 1
        if any(g in f for f in flat):
            whole += 1
    return total, whole, present


def non_body_chars(pred: str, true: str) -> int:
    """Characters of indexed words that the true body does not have (multiset difference)."""
    extra = Counter(tokens(pred, "words")) - Counter(tokens(true, "words"))
    return sum(len(w) * n for w, n in extra.items())


_TRACKING = re.compile(r"(utm_\w+|srcref|ref|cmpid|ocid|fbclid|gclid|mc_cid|mc_eid)$", re.I)
_UNRESERVED = re.compile(r"%([0-9A-Fa-f]{2})")


def _norm_url(u: str | None) -> str:
    """One address of one page, for comparing citebot's link with where the benchmark fetched it.

    Equal after normalisation = the same page to a reader: scheme ignored (the pages were fetched
    in 2019 while sites moved to https; both schemes serve the article), host lower-cased without
    a leading "www." or a default port, percent-escapes normalised (RFC 3986 6.2.2: unreserved
    characters decoded, the rest upper-case), trailing slash and #fragment dropped, tracking
    parameters (utm_*, ocid, fbclid, ...) dropped and the rest sorted. The path keeps its letter
    case (RFC 3986: paths are case-sensitive, even if some servers ignore it) and no other
    parameter is dropped: a different path or query is a different address.
    """
    from urllib.parse import parse_qsl, urlencode, urlsplit

    if not u:
        return ""
    parts = urlsplit(u.strip())
    host = (parts.hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    if parts.port and parts.port not in (80, 443):
        host += f":{parts.port}"

    def escapes(s: str) -> str:
        def one(m: re.Match) -> str:
            ch = chr(int(m.group(1), 16))
            return ch if ch.isascii() and (ch.isalnum() or ch in "-._~") else "%" + m.group(1).upper()
        return _UNRESERVED.sub(one, s)

    path = escapes(parts.path).rstrip("/")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k))
    return host + path + ("?" + urlencode(query) if query else "")


_META_PUBLISHED = ("article:published_time", "og:published_time", "datepublished", "pubdate", "og:pubdate",
                   "publishdate", "publish-date", "article.published", "dc.date.issued", "sailthru.date",
                   "parsely-pub-date", "dc.date")


def stated_publication(data: bytes) -> str | None:
    """The publication date a page's own metadata states, as written: JSON-LD `datePublished` (any
    object, first found), else the first publication meta tag. None when it states none."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(data)
    except Exception:
        return None
    for s in tree.iter("script"):
        if (s.get("type") or "").lower().strip() == "application/ld+json":
            m = re.search(r'"datePublished"\s*:\s*"((?:19|20)\d\d-\d\d-\d\d[^"]*)"', s.text_content())
            if m:
                return m.group(1)
    metas = {(m.get("property") or m.get("name") or m.get("itemprop") or "").lower(): m.get("content") or ""
             for m in reversed(list(tree.iter("meta")))}
    for key in _META_PUBLISHED:
        v = metas.get(key, "").strip()
        if re.match(r"(?:19|20)\d\d-\d\d-\d\d", v):
            return v
    return None


def _local_day(r: dict) -> bool:
    """A UTC timestamp (Z, +00:00) whose neighbouring day citebot took from the page's URL or byline,
    or from another of the page's own statements that its byline agrees with (issue 30: a
    `published_time` in the site's own zone beside JSON-LD's UTC one): never from an estimate."""
    from datetime import date

    meta = r["meta_date"] or ""
    if not r["date"] or not re.search(r"\d\d:\d\d.*(Z|[+-]00:?00)$", meta):
        return False
    gap = abs((date.fromisoformat(r["date"]) - date.fromisoformat(meta[:10])).days)
    return gap == 1 and r["date_source"] in ("url", "byline-time", "dateline", "json-ld", "meta", "microdata", "title")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--worst", type=int, default=0, help="list the N pages with the lowest F1")
    ap.add_argument("--meta", type=int, default=0, help="list title/date/url of the first N pages (sorted by id)")
    ap.add_argument("--urls", action="store_true", help="list the pages whose URL disagrees with the ground truth")
    ap.add_argument("--dates", action="store_true", help="list the pages whose date disagrees with their metadata")
    ap.add_argument("--json", type=Path, help="write per-page figures here")
    args = ap.parse_args(argv)
    gt_path = args.data / "ground-truth.json"
    if not gt_path.exists():
        print(f"no benchmark data at {args.data} (needs ground-truth.json and html/)", file=sys.stderr)
        return 2
    truth = json.loads(gt_path.read_text())
    rows = []
    t0 = time.perf_counter()
    for key in sorted(truth):
        body = truth[key]["articleBody"]
        data = gzip.decompress((args.data / "html" / f"{key}.html.gz").read_bytes())
        try:
            art = load_bytes(data, f"{key}.html")
            text, passages = indexed_text(art.text, art.title)
            title, date, url = art.title, art.date, art.url
            date_source, updated = art.date_source, art.updated
        except LoadError as exc:
            text, passages, title, date, url, date_source, updated = "", [], None, None, None, None, None
            print(f"{key[:12]}: {exc}", file=sys.stderr)
        row = {"id": key, "title": title, "date": date, "url": url, "true_url": truth[key].get("url"),
               "date_source": date_source, "updated": updated, "meta_date": stated_publication(data)}
        for mode in ("words", "ws"):
            row[f"p_{mode}"], row[f"r_{mode}"], row[f"f1_{mode}"] = prf(text, body, mode)
        row["sentences"], row["whole"], row["present"] = wholeness(body, passages, text)
        row["extra_chars"] = non_body_chars(text, body)
        row["indexed_chars"] = len(text)
        row["true_chars"] = len(body)
        rows.append(row)
    seconds = time.perf_counter() - t0
    n = len(rows)
    print(f"pages: {n}   ({seconds:.1f} s)")
    for mode, label in (("words", "words (edge punctuation stripped)"), ("ws", "whitespace tokens (benchmark rule)")):
        f1 = statistics.mean(r[f"f1_{mode}"] for r in rows)
        p = statistics.mean(r[f"p_{mode}"] for r in rows)
        r_ = statistics.mean(r[f"r_{mode}"] for r in rows)
        low = sum(r[f"f1_{mode}"] < 0.5 for r in rows)
        print(f"{label:38s} F1 {f1:.3f}  P {p:.3f}  R {r_:.3f}  pages F1<0.5: {low}")
    tot = sum(r["sentences"] for r in rows)
    whole = sum(r["whole"] for r in rows)
    present = sum(r["present"] for r in rows)
    whole_present = sum(min(r["whole"], r["present"]) for r in rows)
    print(f"sentence wholeness: {whole}/{tot} = {whole / tot:.2%} of all true sentences; "
          f"{whole_present}/{present} = {whole_present / max(present, 1):.2%} of those present in the index")
    extra = sum(r["extra_chars"] for r in rows)
    indexed = sum(r["indexed_chars"] for r in rows)
    print(f"non-body characters indexed: {extra:,} of {indexed:,} ({extra / max(indexed, 1):.2%}); "
          f"median per page {statistics.median(r['extra_chars'] for r in rows):.0f}")
    exact = sum((r["url"] or "") == (r["true_url"] or "") for r in rows)
    loose = sum(_norm_url(r["url"]) == _norm_url(r["true_url"]) for r in rows)
    print(f"URL agreement: exact {exact}/{n} ({exact / n:.1%}), normalised (scheme, www, host case, default port, %-escapes, trailing slash, #fragment, tracking parameters, parameter order) {loose}/{n} ({loose / n:.1%})")
    missing = sum(not r["url"] for r in rows)
    print(f"  pages that declare no address of their own: {missing}; fetched with `citebot ingest URL`, such a page "
          f"gets its fetch address (html_to_article(url=...)): {loose + missing}/{n} ({(loose + missing) / n:.1%})")
    print(f"pages with a date: {sum(bool(r['date']) for r in rows)}/{n}")
    stated = [r for r in rows if r["meta_date"]]
    same = [r for r in stated if r["date"] == r["meta_date"][:10]]
    local = [r for r in stated if r not in same and _local_day(r)]
    print(f"date agreement with the page's own metadata (pages that state one: {len(stated)}/{n}): "
          f"same day {len(same)}/{len(stated)} ({len(same) / max(len(stated), 1):.1%}); "
          f"the site's own day of a UTC timestamp (URL/byline/another statement) {len(local)}; "
          f"together {len(same) + len(local)}/{len(stated)} ({(len(same) + len(local)) / max(len(stated), 1):.1%})")
    if args.worst:
        print("\nworst pages (F1 words / P / R, indexed vs true chars):")
        for r in sorted(rows, key=lambda r: r["f1_words"])[: args.worst]:
            print(f"  {r['id'][:12]} F1 {r['f1_words']:.3f} P {r['p_words']:.3f} R {r['r_words']:.3f} "
                  f"{r['indexed_chars']}/{r['true_chars']}  {r['true_url']}")
    if args.meta:
        print("\n| page | title | date | url agrees |\n|---|---|---|---|")
        for r in rows[: args.meta]:
            agrees = "yes" if _norm_url(r["url"]) == _norm_url(r["true_url"]) else f"no ({r['url']})"
            print(f"| {r['id'][:10]} | {r['title']} | {r['date'] or '—'} | {agrees} |")
    if args.urls:
        print("\nURL disagreements (citebot's link | where the benchmark fetched the page):")
        for r in rows:
            if _norm_url(r["url"]) != _norm_url(r["true_url"]):
                print(f"  {r['id'][:12]} {r['url'] or '(none declared)'} | {r['true_url']}")
    if args.dates:
        print("\ndate disagreements (citebot's date [source] | the metadata's statement):")
        for r in stated:
            if r not in same:
                tag = "site's own day" if r in local else "DIFFERENT"
                print(f"  {r['id'][:12]} {r['date']} [{r['date_source']}] | {r['meta_date']}  {tag}  {r['true_url']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
