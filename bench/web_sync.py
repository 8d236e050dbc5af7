"""Web sync throughput: 1,000 generated pages from a local HTTP server, through a sitemap, end to end.

    python bench/web_sync.py [--pages 1000] [--concurrency 4] [--delay 0] [--out bench/out/web_sync]

A website runs in its own process on 127.0.0.1 (so its work does not share our GIL) and serves
generated article pages (our own text: sentences built from a fixed vocabulary with seed 14), a
sitemap of them, and robots.txt. Measured, each pass a `WebIngester.sync` over one [[sitemap]]:

  1. first pass into an empty index: fetch, extract (trafilatura), chunk, embed (ONNX int8 by
     default, as `citebot` runs), write and publish — pages/s end to end;
  2. second pass, nothing changed, server sends ETag/Last-Modified: one conditional request per page, 304s;
  3. the same without validators from the server: every page downloaded again, matched by content hash;
  4. 10 pages edited: those re-indexed, the rest 304.

Pass 0 ingests the same pages as files from disk (`Engine.ingest_paths`), so the cost of HTTP
shows as the difference to pass 1.

Politeness is set by --concurrency (requests in flight per host) and --delay (seconds between
request starts per host); the defaults citebot ships (2 and 0.25 s) bound a single-site pass at
4 pages/s, so this bench measures citebot's own cost with the delay at 0. Prints a table and a JSON line.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WORDS = ("harbour lantern orchard mill canal bridge station keeper river valley council market tower ferry "
         "garden quarry forest meadow chapel school library bakery foundry granary dock pier road "
         "measured built repaired opened closed counted recorded painted moved restored planted rebuilt "
         "north south east west old new small large busy quiet early late first last").split()
NAMES = "Ashby Brindle Corrow Dunmere Elsworth Fennick Gorsey Halloway Ivel Jessop Kettering Lowick".split()


def page_text(i: int, version: int = 0) -> tuple[str, list[str]]:
    """Title and paragraphs of generated page i (version > 0 = an edited page)."""
    rng = random.Random(14_000 + i * 7 + version * 100_003)
    title = f"{rng.choice(NAMES)} {rng.choice(WORDS)} report {i}"
    paras = []
    for _ in range(rng.randint(4, 7)):
        sents = []
        for _ in range(rng.randint(3, 5)):
            n = rng.randint(8, 18)
            words = [rng.choice(WORDS) for _ in range(n)]
            sents.append(f"The {rng.choice(NAMES)} " + " ".join(words) + f" in {rng.randint(1850, 2024)}.")
        paras.append(" ".join(sents))
    return title, paras


def serve(port_q: multiprocessing.Queue[int], pages: int) -> None:
    """The website: /p/<i>, /sitemap.xml, /robots.txt, and /_mode?validators=0|1&edited=N for the
    bench itself to switch passes (runs in a child process until killed)."""
    import hashlib
    from email.utils import formatdate
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    stamp = formatdate(time.time() - 86400, usegmt=True)
    cache: dict[str, bytes] = {}
    mode = {"validators": True, "edited": 0}

    def body(path: str) -> tuple[bytes, str] | None:
        if path == "/robots.txt":
            return b"User-agent: *\nDisallow: /private/\n", "text/plain"
        if path == "/sitemap.xml":
            locs = "".join(f"<url><loc>http://127.0.0.1:{port}/p/{i}</loc></url>" for i in range(pages))
            return (f"<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{locs}"
                    "</urlset>").encode(), "application/xml"
        if path.startswith("/p/") and path[3:].isdigit() and int(path[3:]) < pages:
            i = int(path[3:])
            if path not in cache:
                title, paras = page_text(i, 1 if i < mode["edited"] else 0)
                html = ("<!doctype html><html><head><meta charset='utf-8'><title>" + title + "</title></head><body>"
                        "<nav><a href='/'>Home</a></nav><article><h1>" + title + "</h1>"
                        + "".join(f"<p>{p}</p>" for p in paras) + "</article><footer>Bench site</footer></body></html>")
                cache[path] = html.encode()
            return cache[path], "text/html; charset=utf-8"
        return None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle plus the client's
        # delayed ACK adds ~40 ms to every keep-alive response (real servers do not do this).
        disable_nagle_algorithm = True

        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/_mode?"):
                q = parse_qs(urlsplit(self.path).query)
                mode["validators"] = q.get("validators", ["1"])[0] == "1"
                mode["edited"] = int(q.get("edited", ["0"])[0])
                cache.clear()
                self.send_response(204)
                self.end_headers()
                return
            validators = mode["validators"]
            found = body(self.path)
            if found is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data, ctype = found
            etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
            if validators and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            if validators:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", stamp)
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    port_q.put(port)
    server.serve_forever()


class Website:
    """The serving child process."""

    def __init__(self, pages: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        q: multiprocessing.Queue[int] = ctx.Queue()
        self.proc = ctx.Process(target=serve, args=(q, pages), daemon=True)
        self.proc.start()
        self.port = q.get(timeout=30)

    def mode(self, *, validators: bool = True, edited: int = 0) -> None:
        """Switch the site for the next pass (a direct request, not through citebot)."""
        import urllib.request

        urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_mode?validators={int(validators)}&edited={edited}").close()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=4, help="requests in flight per host")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds between request starts per host")
    ap.add_argument("--backend", default="auto", help="embedding backend (auto = ONNX int8 when installed)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "web_sync")
    args = ap.parse_args()

    from index import Engine, Fetcher, FetchPolicy, Source, SourceKind, WebIngester, make_embedder

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    embedder = make_embedder("sentence-transformers/all-MiniLM-L6-v2", args.backend)
    embedder.encode(["warm up"])
    engine = Engine(args.out / "index", embedder)
    policy = FetchPolicy(allow_private=True, per_host_concurrency=args.concurrency, per_host_delay=args.delay)

    rows = []

    def run(label: str, website: Website) -> dict:
        ing = WebIngester(engine, Fetcher(policy), workers=max(8, args.concurrency))
        src = Source(SourceKind.SITEMAP, f"http://127.0.0.1:{website.port}/sitemap.xml")
        t0 = time.perf_counter()
        rep = ing.sync([src])
        secs = time.perf_counter() - t0
        ing.close()
        r = rep.results[0]
        row = {"pass": label, "seconds": round(secs, 2), "pages_per_s": round(args.pages / secs, 1),
               "added": len(r.report.added), "updated": len(r.report.updated),
               "unchanged": len(r.report.unchanged), "skipped": len(r.report.skipped),
               "passages": r.report.passages, "error": r.error}
        rows.append(row)
        print(f"{label:38} {secs:8.2f} s {args.pages / secs:8.1f} pages/s  +{row['added']} ~{row['updated']} "
              f"={row['unchanged']} !{row['skipped']}  {row['passages']} passages", flush=True)
        return row

    # Baseline: the same pages as files on disk, through `Engine.ingest_paths` (no HTTP at all).
    files = args.out / "files"
    files.mkdir()
    for i in range(args.pages):
        title, paras = page_text(i)
        (files / f"p-{i}.html").write_text(
            "<!doctype html><html><head><meta charset='utf-8'><title>" + title + "</title></head><body>"
            "<nav><a href='/'>Home</a></nav><article><h1>" + title + "</h1>"
            + "".join(f"<p>{p}</p>" for p in paras) + "</article><footer>Bench site</footer></body></html>")
    t0 = time.perf_counter()
    base = Engine(args.out / "files-index", embedder).ingest_paths([files])
    secs = time.perf_counter() - t0
    rows.append({"pass": "0. same pages from files (no HTTP)", "seconds": round(secs, 2),
                 "pages_per_s": round(args.pages / secs, 1), "added": len(base.added), "passages": base.passages})
    print(f"{'0. same pages from files (no HTTP)':38} {secs:8.2f} s {args.pages / secs:8.1f} pages/s  "
          f"+{len(base.added)}  {base.passages} passages", flush=True)

    site = Website(args.pages)
    try:
        run("1. first pass (empty index)", site)
        run("2. no change, ETag -> 304", site)
        site.mode(validators=False)
        run("3. no change, no validators (hash)", site)
        site.mode(validators=True, edited=10)
        run("4. 10 pages edited", site)
    finally:
        site.stop()
    import platform

    print(json.dumps({"bench": "web_sync", "pages": args.pages, "concurrency": args.concurrency,
                      "delay": args.delay, "backend": args.backend, "cpus": os.cpu_count(),
                      "python": platform.python_version(), "passes": rows}))


if __name__ == "__main__":
    main()
