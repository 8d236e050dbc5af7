"""PDF → (title, text, date, url) with pypdf; encrypted, truncated or fake PDFs become a LoadError."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import LoadError
from .dates import valid_day


def read_pdf(data: bytes, name: str) -> tuple[str | None, str, str | None, str | None]:
    """PDF: text of every page (pypdf); encrypted or broken files are refused with a reason."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.lstrip().startswith(b"%PDF"):
        raise LoadError(f"{name}: not a PDF file")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok: int = reader.decrypt("")  # a PasswordType, an IntEnum: 0 is failure
            except Exception:
                ok = 0
            if not ok:
                raise LoadError(f"{name}: the PDF is password-protected")
        pages = [(page.extract_text() or "") for page in reader.pages]
        info: Mapping[str, Any] = reader.metadata or {}
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise LoadError(f"{name}: the PDF is damaged or truncated ({type(exc).__name__})") from exc
    except Exception as exc:  # pypdf can raise nearly anything on hostile input
        raise LoadError(f"{name}: the PDF could not be read ({type(exc).__name__})") from exc
    text = "\n\n".join(_reflow(p) for p in pages if p.strip())
    title = str(info.get("/Title") or "").strip() or None
    raw_date = str(info.get("/CreationDate") or "")
    m = re.match(r"D:((?:19|20)\d\d)(\d\d)(\d\d)", raw_date)
    return title, text, (valid_day(*m.groups()) if m else None), None


def _reflow(page: str) -> str:
    """Join a PDF page's wrapped lines into paragraphs so sentences are not cut at line ends."""
    page = page.replace("\r", "")
    paras = re.split(r"\n\s*\n", page)
    out = []
    for p in paras:
        p = re.sub(r"-\n(?=[a-z])", "", p)  # hyphenated line breaks
        p = re.sub(r"[ \t]*\n[ \t]*", " ", p)
        out.append(p.strip())
    return "\n\n".join(x for x in out if x)
