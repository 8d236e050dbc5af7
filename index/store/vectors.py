"""The vector side of a generation: float16 rows with their passage ids and collections, and the FAISS indexes over them."""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

VECTORS = "vectors.npy"  # float16 unit vectors, one row per passage, in passage id order
IDS = "ids.npy"  # passage id of each row (TOMBSTONE: removed, until compaction)
COLL = "coll.npy"  # collection code of each row
COLLECTIONS = "collections.json"  # names of the collection codes
ANN = "ann.faiss"  # IVF-SQ8 over the rows, only from `exact_below` passages on
ANN_META = "ann.json"  # its kind, list count and training size
FORMAT1_VECTORS = "vectors.faiss"  # format 1: an IndexIDMap2, converted in memory when read

TOMBSTONE = -1  # the passage id of a removed row
# Exact search below this many passages (a flat scan of 50k vectors takes ~2 ms), IVF-SQ8 above.
DEFAULT_EXACT_BELOW = 50_000
# Rows copied per slice, so a large memory-mapped set is never held twice in memory.
COPY_STEP = 1 << 16
# Compact (drop tombstones, rebuild the IVF) once removed rows exceed this share of all rows...
COMPACT_TOMBSTONE_SHARE = 0.2
# ...or the live rows exceed this multiple of what the IVF lists were trained on.
RETRAIN_GROWTH = 4
# IVF list count: ~2·sqrt(n), at least IVF_MIN_LISTS, at most IVF_MAX_LISTS, and FAISS wants
# IVF_MIN_POINTS_PER_LIST+ training points per list; trained on IVF_TRAIN_PER_LIST vectors per list.
IVF_MIN_LISTS = 64
IVF_MAX_LISTS = 8192
IVF_MIN_POINTS_PER_LIST = 39
IVF_TRAIN_PER_LIST = 50
IVF_SEED = 0


@dataclass
class Rows:
    """The vector side of one generation, row by row (rows follow passage ids, ascending)."""

    vectors: np.ndarray  # (rows, dim) float16, memory-mapped when read from disk
    ids: np.ndarray  # int64 passage id of each row; TOMBSTONE marks a removed passage
    coll: np.ndarray  # int32 code of each row's collection, an index into `collections`
    collections: list[str]


def empty_rows(dim: int) -> Rows:
    """No rows yet, of vectors with `dim` dimensions."""
    return Rows(np.zeros((0, dim), np.float16), np.zeros(0, np.int64), np.zeros(0, np.int32), [])


def load_rows(gen: Path, conn: sqlite3.Connection, dim: int) -> Rows:
    """Read a generation's rows; format 1 (an IndexIDMap2 in vectors.faiss) is converted in memory."""
    if (gen / IDS).exists():
        return Rows(
            np.load(gen / VECTORS, mmap_mode="r"),
            np.load(gen / IDS),
            np.load(gen / COLL),
            json.loads((gen / COLLECTIONS).read_text()),
        )
    import faiss

    index: Any = faiss.read_index(str(gen / FORMAT1_VECTORS))
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    vecs = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, dim), np.float32)
    order = np.argsort(ids, kind="stable")
    names: dict[str, int] = {}
    by_id = {pid: names.setdefault(c, len(names)) for pid, c in conn.execute(
        "SELECT p.id, a.collection FROM passages p JOIN articles a ON a.id = p.article_id")}
    ids = ids[order]
    coll = np.fromiter((by_id.get(int(i), -1) for i in ids), dtype=np.int32, count=len(ids))
    return Rows(np.asarray(vecs[order], dtype=np.float16), ids, coll, list(names))


def bitmap(mask: np.ndarray) -> tuple[Any, np.ndarray]:
    """A FAISS selector over positions where `mask` is true; keep the returned bits alive while searching."""
    import faiss

    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits


def top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(len(scores))
    return part[np.argsort(-scores[part], kind="stable")]


def build_ivf(vectors: np.ndarray, dim: int, *, seed: int = IVF_SEED) -> tuple[Any, dict[str, Any]]:
    """IVF with 8-bit scalar-quantised codes over all rows (row number = FAISS id); returns (index, meta)."""
    import faiss

    n = len(vectors)
    # ~2·sqrt(n) lists: 2,000 at 1M; trained on 50 vectors per list (k-means cost grows with both).
    nlist = int(max(1, min(max(2 * np.sqrt(n), IVF_MIN_LISTS), IVF_MAX_LISTS, n // IVF_MIN_POINTS_PER_LIST)))
    index = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, IVF_TRAIN_PER_LIST * nlist), replace=False))
    index.train(np.asarray(vectors[sample], dtype=np.float32))
    for s in range(0, n, COPY_STEP):
        chunk_ = np.asarray(vectors[s: s + COPY_STEP], dtype=np.float32)
        index.add_with_ids(chunk_, np.arange(s, s + len(chunk_), dtype=np.int64))
    return index, {"kind": "ivf-sq8", "nlist": nlist, "trained_on": n}


def write_rows(
    gen: Path,
    base_dir: Path | None,
    rows: Rows,
    ids: np.ndarray,
    new_vecs: np.ndarray,
    new_ids: np.ndarray,
    new_coll: np.ndarray,
    collections: list[str],
    *,
    dim: int,
    exact_below: int,
) -> tuple[np.ndarray, str]:
    """Write a generation's vector files and dense index; returns (ids of its rows, kind of index).

    `rows` is the base generation's view, `ids` its ids with this write's tombstones, and the
    `new_*` arrays the rows added (a TOMBSTONE id: added, then removed in the same write).
    """
    import faiss

    new_keep = new_ids >= 0
    new_ids, new_coll, new_vecs = new_ids[new_keep], new_coll[new_keep], new_vecs[new_keep]
    ids = np.concatenate([ids, new_ids])
    coll = np.concatenate([rows.coll, new_coll])
    live = ids >= 0
    n_live = int(live.sum())
    live_ids = ids[live]
    ordered = bool(np.all(live_ids[1:] > live_ids[:-1]))
    base_ann = base_dir is not None and (base_dir / ANN).exists()
    ann_meta = json.loads((base_dir / ANN_META).read_text()) if base_dir is not None and base_ann else {}
    kind = "flat" if n_live < exact_below else "ivf-sq8"
    compact = (
        kind == "flat" or not base_ann or not ordered
        or (len(ids) - n_live) > COMPACT_TOMBSTONE_SHARE * len(ids)
        or n_live > RETRAIN_GROWTH * int(ann_meta.get("trained_on", 0))  # grown far past what the lists were trained on
    )

    if compact or base_dir is None:
        order = np.flatnonzero(live)
        if not ordered:
            order = order[np.argsort(ids[order], kind="stable")]
        out_ids, out_coll = ids[order], coll[order]
        out = np.lib.format.open_memmap(gen / VECTORS, mode="w+", dtype=np.float16, shape=(len(order), dim))
        if ordered:
            n_old = int(np.searchsorted(order, len(rows.ids)))
            # Old rows then new rows, copied in slices so the whole set is never held twice.
            old_rows = order[:n_old]
            for s in range(0, len(old_rows), COPY_STEP):
                piece = old_rows[s: s + COPY_STEP]
                out[s: s + len(piece)] = rows.vectors[piece]
            out[n_old:] = new_vecs[order[n_old:] - len(rows.ids)]
        else:
            everything = np.concatenate([np.asarray(rows.vectors), new_vecs])
            out[:] = everything[order]
            del everything
        out.flush()
        if kind == "ivf-sq8":
            index, meta = build_ivf(out, dim)
            faiss.write_index(index, str(gen / ANN))
            (gen / ANN_META).write_text(json.dumps(meta))
        del out
    else:
        out_ids, out_coll = ids, coll
        if len(new_ids):
            out = np.lib.format.open_memmap(gen / VECTORS, mode="w+", dtype=np.float16, shape=(len(ids), dim))
            for s in range(0, len(rows.ids), COPY_STEP):
                e = min(s + COPY_STEP, len(rows.ids))
                out[s:e] = rows.vectors[s:e]
            out[len(rows.ids):] = new_vecs
            out.flush()
            del out
        else:
            os.link(base_dir / VECTORS, gen / VECTORS)
        gone = np.flatnonzero((rows.ids >= 0) & (ids[: len(rows.ids)] < 0))
        if len(gone) or len(new_ids):
            ann: Any = faiss.read_index(str(base_dir / ANN))
            if len(gone):
                ann.remove_ids(faiss.IDSelectorBatch(gone.astype(np.int64)))
            if len(new_ids):
                first = len(rows.ids)
                ann.add_with_ids(new_vecs.astype(np.float32), np.arange(first, first + len(new_ids), dtype=np.int64))
            faiss.write_index(ann, str(gen / ANN))
        else:
            os.link(base_dir / ANN, gen / ANN)
        (gen / ANN_META).write_text(json.dumps(ann_meta))
    np.save(gen / IDS, out_ids)
    np.save(gen / COLL, out_coll.astype(np.int32))
    (gen / COLLECTIONS).write_text(json.dumps(collections))
    return out_ids, kind
