"""Small builders for test files (our own text, never the shared corpus)."""
from __future__ import annotations


def make_pdf(lines: list[str], *, title: str | None = None) -> bytes:
    """A minimal valid one-page PDF whose text pypdf can extract (no PDF library needed)."""
    esc = lambda s: s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    for line in lines:
        ops += [f"({esc(line)}) Tj", "T*"]
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title:
        objs.append(b"<< /Title (" + esc(title).encode("latin-1") + b") /CreationDate (D:20240115000000Z) >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    trailer = b"<< /Size %d /Root 1 0 R" % (len(objs) + 1)
    if title:
        trailer += b" /Info %d 0 R" % len(objs)
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


class HashEmbedder:
    """A fast deterministic stand-in for storage and crash tests (bag of hashed words, normalised)."""

    name = "test/hash-embedder"
    dim = 64

    def encode(self, texts, batch_size: int = 32):
        import hashlib

        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


def write_articles(folder, n: int, *, start: int = 0, words: int = 60) -> list:
    """n small distinct articles (our own generated text), one per file; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        body = " ".join(
            f"Station {i} recorded reading number {j} at the observatory{i} site." for j in range(words // 10)
        )
        p = folder / f"report-{i:04d}.txt"
        p.write_text(f"Observatory report {i}\n\n{body}\n")
        paths.append(p)
    return paths
