"""An article's own metadata: title, date and link, from its file name or the page's markup.

File names give a date (`report-2024-03-04.md`) and a title; a web page's JSON-LD, Open Graph,
<meta>, <link rel=canonical> and <h1> give its headline and canonical address. A web page's
dates, by their order of trust, are chosen in `dates`; the helpers here read the plain day a file
states for itself (front matter, a PDF's creation date, its name), as ISO `YYYY-MM-DD` or None,
and the calendar day any one date value writes (`day_as_written`), which `dates` chooses among.
No format reading here: the readers in `text`, `html` and `pdf` call these helpers.
"""
from __future__ import annotations

import re
from datetime import date as _date
from pathlib import Path
from typing import Any

from . import jsonld

_DATE_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)(?!\d)")


def title_from_name(name: str) -> str:
    """A title made from a file name: the date taken out, dashes and underscores as spaces, first letter up."""
    stem = Path(name).stem
    stem = _DATE_IN_NAME.sub("", stem)
    stem = re.sub(r"[-_]+", " ", stem).strip()
    return stem[:1].upper() + stem[1:] if stem else Path(name).name


def date_from_name(name: str) -> str | None:
    """The date a file name holds (`report-2024-03-04.md`, `20240304_notes.txt`), ISO, or None."""
    m = _DATE_IN_NAME.search(Path(name).stem)
    return valid_day(*m.groups()) if m else None


def normalise_date(value: object) -> str | None:
    """A date as pages and front matter write it (ISO, US m/d/Y, European d.m.Y, 20191118) → ISO, or None."""
    if value is None:
        return None
    s = str(value).strip().strip("'\"")
    m = re.match(r"((?:19|20)\d\d)-(\d\d)-(\d\d)", s)
    if m:
        return valid_day(*m.groups())
    m = re.match(r"(\d\d?)/(\d\d?)/((?:19|20)\d\d)", s)  # US style, as news sites print it
    if m:
        return valid_day(m.group(3), m.group(1).zfill(2), m.group(2).zfill(2))
    m = re.match(r"(\d\d?)\.(\d\d?)\.((?:19|20)\d\d)", s)  # 10.06.2013: day first, as in Europe
    if m:
        return valid_day(m.group(3), m.group(2).zfill(2), m.group(1).zfill(2))
    m = re.match(r"((?:19|20)\d\d)(\d\d)(\d\d)(?:T|$)", s)  # 20191118 / 20191118T0930
    if m:
        return valid_day(*m.groups())
    return None


# --- one value → the day written in it ------------------------------------------------------------

_MONTHS = {m: i for i, names in enumerate((
    ("jan", "january", "janvier", "januar", "enero", "gennaio", "janeiro"),
    ("feb", "february", "février", "fevrier", "februar", "febrero", "febbraio", "fevereiro"),
    ("mar", "march", "mars", "märz", "marz", "marzo", "março", "marco"),
    ("apr", "april", "avril", "abril", "aprile"),
    ("may", "mai", "mayo", "maggio", "maio"),
    ("jun", "june", "juin", "juni", "junio", "giugno", "junho"),
    ("jul", "july", "juillet", "juli", "julio", "luglio", "julho"),
    ("aug", "august", "août", "aout", "agosto"),
    ("sep", "sept", "september", "septembre", "septiembre", "settembre", "setembro"),
    ("oct", "october", "octobre", "oktober", "octubre", "ottobre", "outubro"),
    ("nov", "november", "novembre", "noviembre", "novembro"),
    ("dec", "december", "décembre", "decembre", "dezember", "diciembre", "dicembre", "dezembro"),
), 1) for m in names}
_MONTH = r"([A-Za-zÀ-ÿ]{3,9})\.?"
_YEAR = r"((?:19|20)\d\d)"
_ISO = re.compile(r"^\s*" + _YEAR + r"-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::\d\d(?:\.\d+)?)?\s*(Z|UTC|GMT|[+-]\d\d:?\d\d)?)?", re.I)
_COMPACT = re.compile(r"^\s*" + _YEAR + r"(\d\d)(\d\d)(?:T|\s|$)")
_SLASHED = re.compile(r"^\s*" + _YEAR + r"/(\d\d?)/(\d\d?)(?!\d)")
_US = re.compile(r"^\s*(\d\d?)/(\d\d?)/" + _YEAR)  # 11/18/2019 as US sites print it; 15/10/2015 day first
_DOTTED = re.compile(r"(?<![\d.])(\d\d?)\.(\d\d?)\." + _YEAR + r"(?!\d)")  # 18.11.2019: day first
_DMY = re.compile(r"(?<!\d)(\d\d?)(?:st|nd|rd|th)?\.?\s+(?:de\s+)?" + _MONTH + r",?\s+(?:de\s+)?" + _YEAR + r"(?!\d)", re.I)
_MDY = re.compile(_MONTH + r"\s+(\d\d?)(?:st|nd|rd|th)?,?\s+" + _YEAR + r"(?!\d)", re.I)
_URL_DATE = re.compile(r"[/_-]" + _YEAR + r"[/_-]?([01]\d)[/_-]?([0-3]\d)(?:/|[_-]|\.html?|$)")
_URL_NAMED = re.compile(r"/" + _YEAR + r"/([a-z]{3,9})/(\d\d?)/", re.I)  # /2019/nov/18/
_NO_YEAR = re.compile(r"(?<![\w.])(?:" + _MONTH + r"\s+(\d\d?)(?!\d|:)|(\d\d?)(?:st|nd|rd|th)?\.?\s+" + _MONTH + r")", re.I)
_COPYRIGHT = re.compile(r"(?:©|&copy;|\(c\)|copyright)\s*(?:\d{4}\s*[-–]\s*)?((?:19|20)\d\d)", re.I)
_UTC = re.compile(r"(Z|UTC|GMT|[+-]00:?00)\s*$", re.I)


def valid_day(y: str | int, m: str | int, d: str | int) -> str | None:
    """'YYYY-MM-DD' when it is a real calendar day, else None."""
    try:
        return _date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def day_as_written(value: object) -> str | None:
    """The calendar day a date value states, in its own time zone: never converted.

    Reads ISO 8601 (with or without time and offset), 20191118, 2019/11/18, 11/18/2019 (US; 18/11/2019
    when that is the only real day), 18.11.2019 (day first), '18 November 2019', 'Nov. 18, 2019' and RFC 822 ('Fri, 06 Dec 2024
    20:15:00 -0500', as feeds and HTTP headers write it). None when there is no day in it.
    """
    if value is None:
        return None
    s = str(value).strip().strip("'\"")
    if not s:
        return None
    for rx in (_ISO, _COMPACT, _SLASHED):
        m = rx.match(s)
        if m:
            return valid_day(*m.groups()[:3])
    m = _US.match(s)
    if m:
        return valid_day(m.group(3), m.group(1), m.group(2)) or valid_day(m.group(3), m.group(2), m.group(1))
    m = _DOTTED.search(s)
    if m:
        return valid_day(m.group(3), m.group(2), m.group(1))
    m = _DMY.search(s)
    if m and m.group(2).lower() in _MONTHS:
        return valid_day(m.group(3), _MONTHS[m.group(2).lower()], m.group(1))
    m = _MDY.search(s)
    if m and m.group(1).lower() in _MONTHS:
        return valid_day(m.group(3), _MONTHS[m.group(1).lower()], m.group(2))
    return None


def day_in_text(text: str) -> str | None:
    """The first full day written anywhere in a line of text (a title: "Cranes return | 10.06.2013")."""
    for m in re.finditer(r"(?<![\w/.-])(?=\d|[A-Za-zÀ-ÿ]{3})", text):
        day = day_as_written(text[m.start():m.start() + 40])
        if day:
            return day
    return None


def in_utc(value: object) -> bool:
    """Whether a value carries a time given in UTC (so the site's own day may be the next or previous)."""
    s = str(value or "").strip()
    return bool(re.search(r"\d\d:\d\d", s)) and bool(_UTC.search(s))


def url_day(url: str | None) -> str | None:
    """The day in an article's address (/2019/11/18/, /20191118-…, /2019/nov/18/), if any."""
    m = _URL_DATE.search(url or "")
    if m:
        return valid_day(*m.groups())
    m = _URL_NAMED.search(url or "")
    return valid_day(m.group(1), _MONTHS[m.group(2).lower()], m.group(3)) if m and m.group(2).lower() in _MONTHS else None


def day_shown(shown: str, machine: object) -> str | None:
    """The day a line shows without its year ("Posted Nov 18, 8:19 PM"), the year taken from the
    machine-readable value beside it when that names a day at most one off (a UTC time): else None."""
    near, m = day_as_written(machine), _NO_YEAR.search(shown)
    if not near or not m:
        return None
    month, day = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
    if month.lower() not in _MONTHS:
        return None
    for year in (int(near[:4]), int(near[:4]) - 1, int(near[:4]) + 1):  # 31 Dec shown, 1 Jan in UTC
        d = valid_day(year, _MONTHS[month.lower()], day)
        if d and abs((_date.fromisoformat(d) - _date.fromisoformat(near)).days) <= 1:
            return d
    return None


def copyright_years(tree: Any) -> list[str]:
    """The years of the page's "© 2019–2023" lines (both ends of a range)."""
    text = " ".join(tree.text_content().split())
    return [y for m in _COPYRIGHT.finditer(text) for y in re.findall(r"(?:19|20)\d\d", m.group(0))]


# --- the page's own metadata: JSON-LD, Open Graph, <meta>, <link rel=canonical>, <h1> -----------


_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—·•»]+\s+")


def page_meta(tree: Any) -> dict[str, str]:
    """title, url and the site's names as the page itself declares them (its dates: `dates`)."""
    meta: dict[str, str] = {}
    props: dict[str, str] = {}
    for m in tree.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").strip().lower()
        value = (m.get("content") or "").strip()
        if key and value and key not in props:
            props[key] = value
    ld = jsonld.objects(tree)
    article = next(iter(jsonld.article_nodes(ld)), None)
    sites = []
    for o in ld:
        if jsonld.ld_type(o) in ("website", "organization", "newsmediaorganization"):
            sites.append(str(o.get("name") or ""))
    if article is not None:
        pub = article.get("publisher")
        if isinstance(pub, dict):
            sites.append(str(pub.get("name") or ""))
    sites += [props.get("og:site_name", ""), props.get("application-name", ""), props.get("twitter:site", "").lstrip("@")]
    meta["sites"] = "\n".join(s.strip() for s in sites if s and s.strip())

    h1s = [" ".join(h.text_content().split()) for h in tree.iter("h1")]
    h1s = [h for h in h1s if 3 <= len(h) <= 300]
    headline = str(article.get("headline") or article.get("name") or "").strip() if article is not None else ""
    og_title = props.get("og:title") or props.get("twitter:title") or ""
    title_el = tree.find(".//title")
    page_title = " ".join(title_el.text_content().split()) if title_el is not None else ""
    # The headline as the page declares it; the <title> before a lone <h1>, which on some sites
    # is the site's own name in a banner.
    for cand in (headline, og_title, page_title):
        cand = _unescape(cand)
        if cand:
            meta["title"] = cand
            break
    if len(h1s) == 1:
        meta["lone_h1"] = h1s[0]
    if h1s:
        meta["h1"] = "\n".join(h1s)

    meta_url = _page_address(tree, props, article)
    if meta_url:
        meta["url"] = meta_url
    return meta


_SHARE_PARAMS = {  # share buttons carry the article's address in their query: (host part, parameter)
    "facebook.com/sharer": "u", "facebook.com/share.php": "u", "twitter.com/share": "url",
    "twitter.com/intent/tweet": "url", "x.com/intent/tweet": "url", "linkedin.com/sharearticle": "url",
    "linkedin.com/cws/share": "url", "reddit.com/submit": "url", "pinterest.com/pin/create": "url",
    "vk.com/share.php": "url", "tumblr.com/share": "url", "getpocket.com/save": "url",
}


def _page_address(tree: Any, props: dict[str, str], article: dict[str, Any] | None) -> str | None:
    """The article's own public address, from what the page declares, most explicit first.

    1. `<link rel=canonical>`, `og:url`, the article's JSON-LD `url` / `mainEntityOfPage` / `@id`
       (relative ones resolved against an absolute `<base href>` or the page's other declared
       address). A canonical on another site (syndication) gives way to og:url on this one.
    2. A localised edition (businessinsider.de) that names the same path on another host as its
       `hreflang="x-default"` alternate: that is the address for readers anywhere.
    3. Pages that declare none of those still name themselves to the outside world: `twitter:url`,
       an `itemprop="url"` of the page's schema.org Article, the like/+1/comments widgets'
       `data-href`, the article address in share buttons' query (the most common one, since
       teasers may carry their own), and last the `rel=shortlink`.
    Only absolute http(s) addresses count; None when the page names no address at all.
    """
    from urllib.parse import parse_qs, urljoin, urlsplit

    links = [(((ln.get("rel") or "").lower().split()), ln) for ln in tree.iter("link") if ln.get("href")]
    base = next((b.get("href") for b in tree.iter("base") if _absolute(b.get("href"))), None)
    canonical = next((ln.get("href").strip() for rel, ln in links if "canonical" in rel), None)
    og_url = props.get("og:url")
    ld_urls: list[str] = []
    if article is not None:
        main = article.get("mainEntityOfPage")
        for v in (article.get("url"), main.get("@id") if isinstance(main, dict) else main, article.get("@id")):
            if isinstance(v, str) and v.strip():
                ld_urls.append(v.strip().split("#")[0])
    anchor = base or next((u for u in (canonical, og_url, *ld_urls) if _absolute(u)), None)

    def resolve(u: str | None) -> str | None:
        if not u:
            return None
        u = u.strip()
        if not _absolute(u) and anchor and not u.startswith(("#", "javascript:", "mailto:")):
            u = urljoin(anchor, u)
        return u if _absolute(u) else None

    canonical, og_url = resolve(canonical), resolve(og_url)
    ld_url = next((r for r in map(resolve, ld_urls) if r), None)
    if canonical and og_url and site_of(canonical) != site_of(og_url):
        chosen: str | None = og_url  # syndicated: the copy we read is on og:url's site
    else:
        chosen = canonical or og_url or ld_url
    if chosen:
        default = next((resolve(ln.get("href")) for rel, ln in links
                        if "alternate" in rel and (ln.get("hreflang") or "").lower() == "x-default"), None)
        if default and _same_path(default, chosen) and urlsplit(default).netloc != urlsplit(chosen).netloc:
            return default
        return chosen

    fallbacks: list[str | None] = [props.get("twitter:url")]
    for el in tree.xpath('//*[@itemprop="url"]'):
        scope = next((a for a in el.iterancestors() if a.get("itemscope") is not None), None)
        if scope is not None and re.search(r"(Article|BlogPosting|Report)$", (scope.get("itemtype") or "").strip()):
            fallbacks.append(el.get("href") or el.get("content"))
    for el in tree.iter():
        tag = str(el.tag).lower() if isinstance(el.tag, str) else ""
        cls = (el.get("class") or "").lower()
        if tag in ("like", "fb:like", "plusone", "g:plusone", "fb:comments") and el.get("href"):
            fallbacks.append(el.get("href"))
        elif el.get("data-href") and re.search(r"\b(fb-like|fb-comments|fb-share-button|g-plusone)\b", cls):
            fallbacks.append(el.get("data-href"))
    shared: dict[str, int] = {}
    for a in tree.iter("a"):
        href = (a.get("href") or "").strip()
        low = href.lower()
        param = next((v for k, v in _SHARE_PARAMS.items() if k in low), None)
        if not param:
            continue
        for value in parse_qs(urlsplit(href).query).get(param, []):
            if _absolute(value):
                shared[value] = shared.get(value, 0) + 1
    if shared:
        fallbacks.append(max(shared, key=lambda u: shared[u]))  # ties: the first seen
    fallbacks += [ln.get("href") for rel, ln in links if "shortlink" in rel]
    return next((r for r in map(resolve, fallbacks) if r), None)


def _absolute(u: str | None) -> bool:
    return u is not None and u.strip().lower().startswith(("http://", "https://"))  # "" starts with neither


def _same_path(a: str, b: str) -> bool:
    from urllib.parse import urlsplit

    pa, pb = urlsplit(a), urlsplit(b)
    return pa.path.rstrip("/") == pb.path.rstrip("/") and pa.query == pb.query and len(pa.path.strip("/")) > 0


def site_of(url: str) -> str:
    """The site of an address, as its last two host labels ("www.example.org" → "example.org")."""
    host = re.sub(r"^(https?:)?//", "", url.strip()).split("/")[0].split(":")[0].lower()
    parts = host.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else host


def _unescape(s: str) -> str:
    import html as _html

    return " ".join(_html.unescape(s).split())


def clean_title(title: str | None, meta: dict[str, str]) -> str | None:
    """The headline without the site's name or a date tacked on ('… | DW | 10.06.2013')."""
    if not title:
        return None
    title = _unescape(title)
    sites = {norm_words(s) for s in meta.get("sites", "").split("\n") if s}
    for h1 in meta.get("h1", "").split("\n"):
        # The page's own <h1> inside a longer title ("H1 – Site", "Site: H1"): the rest is the site's.
        if not h1 or norm_words(h1) in sites:
            continue
        rest = title[len(h1):]
        if (len(h1) >= 12 or len(rest.split()) <= 5) and title != h1 and title.startswith(h1) and _TITLE_SEPARATORS.match(rest + " "):
            return h1
        if len(h1) >= 12 and title != h1 and title.endswith(h1) and re.search(r"(:|\s[|\-–—·•»]+)\s+$", title[: -len(h1)]):
            return h1
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title

    def furniture(part: str) -> bool:
        n = norm_words(part)
        return (not n or n in sites or any(s and (s in n.replace(" ", "") or n.replace(" ", "") in s.replace(" ", ""))
                                             for s in sites if len(n) >= 2)
                or bool(re.fullmatch(r"[\d .:/-]+", part.strip())))

    cut = next((i for i, part in enumerate(parts) if i > 0 and norm_words(part) in sites), None)
    if cut is not None:
        parts = parts[:cut]  # "Headline | Site | Section | Section": everything from the site's name on
    while len(parts) > 1 and furniture(parts[-1]):
        parts.pop()
    while len(parts) > 1 and furniture(parts[0]):
        parts.pop(0)
    if len(parts) == 2 and len(parts[-1].split()) <= 3 and len(parts[0].split()) >= 4:
        parts.pop()  # "Long headline here - Short Site": a short tail is most often the site
    elif len(parts) == 2 and len(parts[0].split()) <= 2 and len(parts[1].split()) >= 4:
        parts.pop(0)  # "Opinion | Long headline here": a one- or two-word section label
    # Rejoin with the separators as they were written.
    kept = " ".join(parts)
    m = title.find(parts[0])
    if m >= 0:
        end = title.find(parts[-1], m) + len(parts[-1])
        if end > m:
            kept = title[m:end]
    return kept.strip() or title


def norm_words(s: str) -> str:
    """Lower-case words separated by single spaces, for comparing titles."""
    return re.sub(r"\W+", " ", s.lower()).strip()
