"""Issue 24 on the chat side: every surface shows an update as such, never as the date, and marks
an estimated date — chat (Discord, Slack), the terminal and the web page alike."""
from __future__ import annotations

from bot.discord.render import source_line as discord_source_line
from bot.render.common import citation_heading, date_label
from bot.slack.render import citation_text
from bot.web.views import citation_view, sources_by_collection
from index import Citation, SourceInfo


def cite(date: str | None = None, **more: object) -> Citation:
    return Citation(n=1, title="Ferry season opens", date=date, url="https://example.org/ferry",
                    source="https://example.org/ferry", snippet="The ferry sailed.", start=0, end=17, score=1.0,
                    **more)  # type: ignore[arg-type]


def test_the_label_names_an_update_and_an_estimate() -> None:
    assert date_label(cite(date="2024-03-04")) == "2024-03-04"
    assert date_label(cite(date="2024-03-04", updated="2024-05-20")) == "2024-03-04, updated 2024-05-20"
    assert date_label(cite(date="2023", date_source="copyright-year", date_estimated=True)) == "2023, estimated"
    assert date_label(cite(updated="2024-05-20")) == "updated 2024-05-20"  # the page states no publication
    assert date_label(cite()) == ""


def test_every_surface_shows_the_same_label() -> None:
    c = cite(date="2024-03-04", updated="2024-05-20", date_source="json-ld")
    label = "2024-03-04, updated 2024-05-20"
    assert citation_heading(c) == f"[1] Ferry season opens ({label})"
    assert label in citation_text(c)
    assert label in discord_source_line(c)
    assert citation_view(c).date == label
    row = SourceInfo(source="a.html", title="A", date="2023", url=None, collection="global", passages=2, added_at=0.0,
                     date_source="copyright-year", date_estimated=True)
    assert sources_by_collection([row], {})["global"][0].date == "2023, estimated"
    assert citation_view(cite()).date is None  # nothing to show: the template leaves the date out
