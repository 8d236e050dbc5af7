"""Repairs of trafilatura's extract: what it dropped from the page is put back, in page order.

Each repair reads the parsed page (lxml) and the extracted text, and returns the text with the
lost parts added: paragraphs split off by ads, loose text runs, embedded posts, section headings.
Teaser blocks are pruned before extraction (`without_teasers`). `html` runs each one guarded: on
hostile markup the extract is kept as it was.
"""
from __future__ import annotations

import re
from typing import Any

from .text import TERMINAL

_SKIP_ANCESTORS = {"script", "style", "noscript", "nav", "footer", "aside", "form", "header", "button", "figcaption", "figure"}


def add_sibling_paragraphs(tree: Any, text: str) -> str:
    """Paragraphs the extractor missed although they sit in the same kind of container as the
    article's own: a body split into several blocks with ads between them loses all but one.

    The container kind is a paragraph's three nearest ancestors (tag and class). The kind that
    holds most of the extracted text is the article's; its other paragraphs under the same third
    ancestor as an extracted one (not a look-alike teaser elsewhere on the page) are added after
    the nearest extracted paragraph before them, in page order.
    """
    flat = _squash(text)
    paras: list[tuple[str, tuple[tuple[Any, str], ...], bool]] = []  # (text, container kind, already extracted)
    roots: list[object] = []  # each paragraph's third ancestor: the article's blocks share it
    for el in tree.iter("p"):
        ancestors = list(el.iterancestors())
        if any(a.tag in _SKIP_ANCESTORS for a in ancestors):
            continue
        t = " ".join(el.text_content().split())
        if len(t) < 2:
            continue
        kind = tuple((a.tag, a.get("class") or "") for a in ancestors[:3])
        paras.append((t, kind, _squash(t)[:150] in flat))
        roots.append(ancestors[2] if len(ancestors) > 2 else None)
    weight: dict[tuple[tuple[Any, str], ...], int] = {}
    found_roots = set()
    for (t, kind, found), root in zip(paras, roots):
        if found:
            weight[kind] = weight.get(kind, 0) + len(t)
            found_roots.add(root)
    if not weight:
        return text
    best = max(weight, key=lambda k: weight[k])
    if weight[best] < 0.5 * sum(weight.values()) or not any(kind == best and not f for _, kind, f in paras):
        return text
    blocks = text.split("\n\n")
    flat_blocks = [_squash(b) for b in blocks]
    inserts: dict[int, list[str]] = {}
    anchor = -1  # block index of the last extracted paragraph seen, in page order
    for (t, kind, found), root in zip(paras, roots):
        key = _squash(t)[:150]
        if found:
            anchor = next((i for i, fb in enumerate(flat_blocks) if key and key in fb), anchor)
        elif kind == best and root in found_roots and len(t) >= 40 and t[-1:] in TERMINAL + ("…",) and key not in flat:
            inserts.setdefault(anchor, []).append(t)
            flat += "|" + key
    out = list(inserts.get(-1, []))
    for i, b in enumerate(blocks):
        out.append(b)
        out += inserts.get(i, [])
    return "\n\n".join(out)


_INLINE = {"a", "em", "strong", "b", "i", "u", "span", "font", "small", "sup", "sub", "abbr", "cite", "code",
           "mark", "q", "s", "time", "var", "del", "ins"}


def _loose_runs(el: Any) -> list[str]:
    """The paragraphs an element writes as loose text between <br>s (no <p>): its own text and
    inline children's, broken at each <br> and at block children."""
    runs: list[str] = []
    cur: list[str] = [el.text or ""]

    def close() -> None:
        t = " ".join("".join(cur).split())
        if t:
            runs.append(t)
        cur.clear()

    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _INLINE:
            cur.append(child.text_content())
        else:
            close()  # <br>, a block, a comment: the run ends here
        cur.append(child.tail or "")
    close()
    return runs


def add_loose_runs(tree: Any, text: str) -> str:
    """Paragraphs written as loose text between <br>s that the extractor dropped although other
    paragraphs of the same element are in the extract (seen: a lead paragraph before the first
    <br>). Only sentence-like runs (40+ characters, ending a sentence) of an element with two or
    more extracted runs are added, next to their extracted neighbours in page order."""
    flat = _squash(text)
    blocks = text.split("\n\n")
    flat_blocks = [_squash(b) for b in blocks]
    before: dict[int, list[str]] = {}
    after: dict[int, list[str]] = {}
    for el in tree.iter():
        if not isinstance(el.tag, str) or el.tag in _SKIP_ANCESTORS or el.tag in _INLINE or el.find("br") is None:
            continue
        if any(a.tag in _SKIP_ANCESTORS for a in el.iterancestors()):
            continue
        runs = _loose_runs(el)
        if len(runs) < 3:
            continue
        where = []  # block index of each run in the extract, or None
        for r in runs:
            key = _squash(r)[:150]
            where.append(next((i for i, fb in enumerate(flat_blocks) if key and key in fb), None) if len(key) >= 20 else None)
        if sum(w is not None for w in where) < 2:
            continue
        for k, (r, w) in enumerate(zip(runs, where)):
            if w is not None or len(r) < 40 or r[-1:] not in TERMINAL + ("…",) or _squash(r)[:150] in flat:
                continue
            prev = next((where[j] for j in range(k - 1, -1, -1) if where[j] is not None), None)
            if prev is not None:
                after.setdefault(prev, []).append(r)
            else:
                before.setdefault(next(w2 for w2 in where[k:] if w2 is not None), []).append(r)
            flat += "|" + _squash(r)[:150]
    if not before and not after:
        return text
    out: list[str] = []
    for i, b in enumerate(blocks):
        out += before.get(i, [])
        out.append(b)
        out += after.get(i, [])
    return "\n\n".join(out)


_EMBED = re.compile(r"\b(twitter-tweet|instagram-media|tiktok-embed|bluesky-embed|mastodon-embed)\b")


def add_embedded_posts(tree: Any, text: str) -> str:
    """Posts the article embeds (a tweet, an Instagram or TikTok post, written into the page as a
    <blockquote> for the widget) are what it quotes: the extractor drops them as widgets. Each one
    that sits between two paragraphs of the extract is added after the paragraph before it, its
    text and then its attribution line ("— Name (@handle) date")."""
    flat = _squash(text)
    blocks = text.split("\n\n")
    flat_blocks = [_squash(b) for b in blocks]
    after: dict[int, list[str]] = {}
    pending: list[tuple[int, str]] = []  # (anchor block, post) waiting for an extracted paragraph after it
    anchor = None
    for el in tree.iter():
        if el.tag == "blockquote" and _EMBED.search(el.get("class") or ""):
            body = [" ".join(p.text_content().split()) for p in el.iter("p")]
            body = [b for b in body if b]
            rest = " ".join((el.text or "").split())
            tail = []
            for child in el:
                if child.tag != "p":
                    tail.append(child.text_content() if child.tag in _INLINE else "")
                tail.append(child.tail or "")
            by = " ".join("".join(tail).split())
            post = "\n".join(body or ([rest] if rest else []))
            key = _squash(post)[:150]
            if post and anchor is not None and len(key) >= 5 and key not in flat:
                pending.append((anchor, post + ("\n" + by if by and len(by) <= 200 else "")))
                flat += "|" + key
            continue
        if el.tag == "p":
            key = _squash(el.text_content())[:150]
            if len(key) >= 20:
                i = next((i for i, fb in enumerate(flat_blocks) if key in fb), None)
                if i is not None:
                    for a, post in pending:
                        after.setdefault(a, []).append(post)
                    pending = []
                    anchor = i
    if not after:
        return text
    out: list[str] = []
    for i, b in enumerate(blocks):
        out.append(b)
        out += after.get(i, [])
    return "\n\n".join(out)


def _near(a: Any, b: Any) -> bool:
    """Whether two elements are siblings or one wrapper apart."""
    pa, pb = a.getparent(), b.getparent()
    return pa is not None and pb is not None and (pa is pb or pa is pb.getparent() or pa.getparent() is pb)


_SUBHEAD_CLASS = re.compile(r"sub-?head|(^|[-_ ])(heading|subtitle)([-_ ]|$)", re.I)


def add_lost_headings(tree: Any, text: str) -> str:
    """Section headings between two paragraphs of the extract that the extractor dropped (a
    heading that is all link, one with layout <div>s inside, a <div class="subheadline">) open
    the paragraph after them again, as "## " headings: context for its passage, never a quote.
    Page-furniture headings ("Related stories", "Newsletter") stay out."""
    from .chunk import Kind, line_kind

    flat = _squash(text)
    blocks = text.split("\n\n")
    flat_blocks = [_squash(b) for b in blocks]
    before: dict[int, list[str]] = {}
    pending: list[tuple[str, Any]] = []  # (heading, its element)
    anchor = None  # block index of the last extracted paragraph, in page order
    for el in tree.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("h2", "h3", "h4", "h5", "h6") or (
                tag in ("div", "p", "span") and _SUBHEAD_CLASS.search(el.get("class") or "")
                and el.find(".//p") is None and el.find(".//div") is None):
            t = " ".join(el.text_content().split())
            key = _squash(t)
            if anchor is not None and 3 <= len(t) <= 150 and key and key not in flat and not t.endswith((".", ",")):
                level = int(tag[1]) if tag.startswith("h") else 2
                head = "#" * level + " " + t
                if line_kind(head) == Kind.HEADING and line_kind(t) != Kind.FURNITURE:
                    pending.append((head, el))
            continue
        if tag == "p":
            key = _squash(el.text_content())[:150]
            if len(key) >= 20:
                i = next((i for i, fb in enumerate(flat_blocks) if key in fb), None)
                if i is not None:
                    # The article's own headings sit beside its paragraphs (same parent, or one
                    # wrapper apart); a run of several is a list of other stories' titles.
                    heads = [h for h, hel in pending if _near(hel, el)]
                    if heads and len(pending) <= 2 and anchor is not None and i > anchor:
                        before.setdefault(i, []).extend(heads)
                        flat += "|" + "|".join(_squash(h) for h in heads)
                    pending = []
                    anchor = i
    if not before:
        return text
    out: list[str] = []
    for i, b in enumerate(blocks):
        out += before.get(i, [])
        out.append(b)
    return "\n\n".join(out)


def _squash(s: str) -> str:
    """Letters and digits only: the extractor and the DOM space and quote text differently."""
    return re.sub(r"\W+", "", s).lower()


def without_teasers(tree: Any) -> Any:  # -> a pruned copy of the page, or None when nothing is pruned
    """A copy of the page without the other posts listed inside the article: an <article> holding
    its own text and two or more <article>s side by side (related-post teasers) loses those."""
    import copy

    if not any(len(outer.xpath(".//article")) >= 2 for outer in tree.iter("article")):
        return None  # the common case: no copy of the page needed
    page = copy.deepcopy(tree)
    pruned = False
    for outer in page.iter("article"):
        inner = [a for a in outer.iter("article") if a is not outer]
        by_parent: dict[object, list[Any]] = {}
        for a in inner:
            by_parent.setdefault(a.getparent(), []).append(a)
        for group in by_parent.values():
            if len(group) < 2:
                continue
            own = len(" ".join(outer.text_content().split())) - sum(len(" ".join(a.text_content().split())) for a in group)
            if own >= 200:
                for a in group:
                    if a.getparent() is not None:
                        a.getparent().remove(a)
                pruned = True
    return page if pruned else None
