"""A web page's JSON-LD (schema.org) objects: read once, for its title and site (`meta`) and its dates (`dates`).

The article's node is found wherever the page puts it (issue 30): a top-level object, a list, a
`@graph` beside WebPage, Organization and BreadcrumbList nodes, or the `mainEntity` /
`mainEntityOfPage` of a WebPage; its `@type` may be any article type, spelt as a URL
(`http://schema.org/NewsArticle`), with a prefix (`schema:BlogPosting`) or as one of a list of types.
Blocks as sites write them are read leniently: wrapped in `<!--`/CDATA, with trailing commas, or
several objects one after another.

Only the page's own objects: the items of a list (related stories, breadcrumbs), comments, parts
and reviews are other things, with their own headlines and dates, and are not walked into.
"""
from __future__ import annotations

import json
import re
from typing import Any

# schema.org types that describe the article itself, besides every type whose name ends in
# "article" (NewsArticle, ReportageNewsArticle, TechArticle…) or "posting" (BlogPosting…).
ARTICLE_TYPES = ("article", "report", "claimreview", "review", "posting")
# Pages that wrap an article: their dates count only when no article node has one.
PAGE_TYPES = ("webpage", "itempage")
_OTHER_THINGS = ("itemListElement", "comment", "hasPart", "review", "relatedLink", "significantLink",
                 "citation", "isBasedOn", "workExample", "subjectOf", "mentions", "video", "associatedMedia")
_WRAPPING = re.compile(r"^\s*(?:<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)|(?:-->|//\s*\]\]>|\]\]>)\s*$")
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def objects(tree: Any) -> list[dict[str, Any]]:
    """Every JSON-LD object of the page (nested ones too, to depth 4), in document order; blocks
    that do not parse even leniently are skipped."""
    out: list[dict[str, Any]] = []

    def walk(o: object, depth: int) -> None:
        if isinstance(o, dict):
            out.append(o)
            for k, v in o.items():
                if isinstance(v, (dict, list)) and k not in _OTHER_THINGS and depth < 4:
                    walk(v, depth + 1)
        elif isinstance(o, list):
            for v in o:
                walk(v, depth)

    for s in tree.iter("script"):
        if (s.get("type") or "").strip().lower() == "application/ld+json":
            for block in parse_block(s.text_content()):
                walk(block, 0)
    return out


def parse_block(text: str) -> list[object]:
    """The JSON values of one `<script type="application/ld+json">`, as sites write them: [] when none."""
    text = _WRAPPING.sub("", text.strip()).strip().rstrip(";").strip()
    for attempt in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return [json.loads(attempt or "null", strict=False)]
        except ValueError:
            pass
        values, pos, decoder = [], 0, json.JSONDecoder(strict=False)
        while pos < len(attempt):  # several objects written one after another
            try:
                value, pos = decoder.raw_decode(attempt, pos)
            except ValueError:
                break
            values.append(value)
            pos = len(attempt) - len(attempt[pos:].lstrip(" \t\r\n,;"))
        if values and pos >= len(attempt):
            return values
    return []


def types(o: dict[str, Any]) -> list[str]:
    """The object's schema.org types, lower-case, without a vocabulary URL or prefix."""
    t = o.get("@type")
    names = t if isinstance(t, list) else [t]
    return [re.split(r"[/#:]", n.strip())[-1].lower().replace(" ", "") for n in names if isinstance(n, str) and n.strip()]


def is_article(o: dict[str, Any]) -> bool:
    """Whether the object is an article of some kind (not a page wrapping one)."""
    return any(t in ARTICLE_TYPES or t.endswith(("article", "posting")) for t in types(o))


def is_page(o: dict[str, Any]) -> bool:
    """Whether the object is a web page (which may wrap the article): WebPage, MedicalWebPage, ItemPage…"""
    return any(t in PAGE_TYPES or t.endswith("webpage") for t in types(o))


def ld_type(o: dict[str, Any]) -> str:
    """The object's schema.org type, lower-case; of several, the first that is an article type."""
    ts = types(o)
    return next((t for t in ts if t in ARTICLE_TYPES or t.endswith(("article", "posting"))), ts[0] if ts else "")


def article_nodes(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page's candidates for its own article, best first: article nodes (the one a WebPage names
    as its `mainEntity` first, then document order), then WebPage nodes."""
    articles = [o for o in objs if is_article(o)]
    main_ids = {_ref(p.get("mainEntity")) for p in objs if is_page(p)} - {None}
    articles.sort(key=lambda o: _ref(o) not in main_ids)  # a stable sort: document order otherwise
    return articles + [o for o in objs if is_page(o) and not is_article(o)]


def _ref(v: object) -> str | None:
    """The @id an object has, or a reference ({"@id": …}) points to."""
    if isinstance(v, list) and v:
        v = v[0]
    return str(v["@id"]) if isinstance(v, dict) and v.get("@id") else None


def value(v: object) -> object:
    """A property's plain value: the first of a list, the `@value` of a typed literal."""
    if isinstance(v, list):
        v = v[0] if v else None
    if isinstance(v, dict):
        v = v.get("@value")
    return v
