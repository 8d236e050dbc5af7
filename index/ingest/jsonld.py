"""A web page's JSON-LD (schema.org) objects: read once, for its title and site (`meta`) and its dates (`dates`).

Only the page's own objects: the items of a list (related stories, breadcrumbs), comments, parts
and reviews are other things, with their own headlines and dates, and are not walked into.
"""
from __future__ import annotations

import json
from typing import Any

# schema.org types that describe the article itself (WebPage last: it often wraps the article).
ARTICLE_TYPES = ("article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
                 "opinionnewsarticle", "report", "socialmediaposting", "liveblogposting", "techarticle",
                 "scholarlyarticle", "posting", "claimreview", "review", "webpage")
_OTHER_THINGS = ("itemListElement", "comment", "hasPart", "review")


def objects(tree: Any) -> list[dict[str, Any]]:
    """Every JSON-LD object of the page (nested ones too, to depth 4), in document order; broken blocks are skipped."""
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
        if (s.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            walk(json.loads(s.text_content().strip() or "null", strict=False), 0)
        except ValueError:
            continue
    return out


def ld_type(o: dict[str, Any]) -> str:
    """The object's schema.org type, lower-case; of several, the first that is an article type."""
    t = o.get("@type")
    if isinstance(t, list):
        t = next((x for x in t if isinstance(x, str) and x.lower() in ARTICLE_TYPES), t[0] if t else "")
    return str(t or "").lower()
