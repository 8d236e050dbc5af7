"""Loaders: each format gives title, date, url and clean text; bad files give a clear LoadError."""
from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import LoadError
from index.ingest.load import load_bytes, load_file
from tests.conftest import EXAMPLES
from tests.helpers import make_pdf


def test_markdown_front_matter_gives_title_date_url() -> None:
    a = load_file(EXAMPLES / "01ai-profile-2024-03-04.md")
    assert a.title == "Who is behind 01.AI? A short profile"
    assert a.date == "2024-03-04"
    assert a.url == "https://example.org/citebot-samples/01ai-profile"
    assert "title:" not in a.text  # front matter is not article text
    assert "Kai-Fu Lee" in a.text


def test_markdown_first_heading_is_title_without_front_matter() -> None:
    a = load_bytes(b"# Harbour ferry returns\n\nThe ferry runs again from May.", "ferry.md")
    assert a.title == "Harbour ferry returns"
    assert a.date is None


def test_txt_first_line_title_and_date_from_file_name() -> None:
    a = load_file(EXAMPLES / "community-garden-2024-05-12.txt")
    assert a.title == "Riverside community garden doubles its plots"
    assert a.date == "2024-05-12"
    assert a.source == str((EXAMPLES / "community-garden-2024-05-12.txt").resolve())


def test_html_keeps_article_text_only_with_metadata() -> None:
    a = load_file(EXAMPLES / "python-release-notes-2024-10-07.html")
    assert a.title.startswith("Python 3.13 arrives")
    assert a.date == "2024-10-07"
    assert a.url == "https://example.org/citebot-samples/python-313"
    assert "global interpreter lock" in a.text
    for junk in ("should never be indexed", "Buy one, get one free", "Subscribe", "All rights reserved"):
        assert junk not in a.text


def test_pdf_text_title_and_date() -> None:
    data = make_pdf(["The lighthouse was restored in 2021 by local volunteers.", "It now houses a small museum."],
                    title="Lighthouse restored")
    a = load_bytes(data, "lighthouse.pdf")
    assert a.title == "Lighthouse restored"
    assert a.date == "2024-01-15"
    assert "restored in 2021 by local volunteers" in a.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"   \n\n  ", "empty"),
        ("binary.txt", bytes(range(256)) * 4, "binary"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "PDF"),
        ("notapdf.pdf", b"hello, I am text", "not a PDF"),
        ("latin.txt", bytes(range(0x80, 0x100)) * 40, "decoded"),
        ("page.html", b"<html><body><script>x()</script></body></html>", "no article text"),
        ("sheet.xlsx", b"PK\x03\x04...", "unsupported file type"),
    ],
)
def test_bad_files_are_refused_with_a_reason(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(LoadError) as err:
        load_bytes(data, name)
    assert reason.lower() in str(err.value).lower()
    assert name in str(err.value)


def test_too_big_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "big.txt"
    f.write_bytes(b"A sentence. " * 200_000)
    with pytest.raises(LoadError, match="over the 1 MB limit"):
        load_file(f, max_bytes=1024 * 1024)


def test_mixed_encoding_keeps_the_readable_text() -> None:
    data = "Caf\u00e9 owners met on Tuesday.".encode() + b" The mayor said \xe9nough. " + b"More plain text here. " * 20
    a = load_bytes(data, "mixed.txt")
    assert "Café owners met on Tuesday." in a.text


def test_encrypted_pdf_is_refused_with_a_reason() -> None:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf(["Secret minutes of the harbour board meeting."]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="hunter2", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(LoadError, match="password-protected"):
        load_bytes(buf.getvalue(), "minutes.pdf")
