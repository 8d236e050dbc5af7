"""Plain-text rendering and the snippet trimming every platform shares."""
from __future__ import annotations

from bot.render import neutralize_mentions, render_text, snippet_parts
from index.types import Answer, Citation

ARTICLE = "Intro sentence here. The bridge opened in 1932 after six years of work. A closing line follows it."
ANSWER = "The bridge opened in 1932 after six years of work."
A0 = ARTICLE.index(ANSWER)
A1 = A0 + len(ANSWER)


def cite(**kw) -> Citation:
    base = dict(n=1, title="Bridge history", date="2020-01-01", url=None, source="/a/bridge.txt",
                snippet=ARTICLE, start=0, end=len(ARTICLE), score=0.5, answer_start=A0, answer_end=A1)
    base.update(kw)
    return Citation(**base)


def test_snippet_parts_are_exact_pieces_of_the_snippet() -> None:
    c = cite()
    sn = snippet_parts(c)
    assert sn.before + sn.answer + sn.after == c.snippet
    assert sn.answer == "The bridge opened in 1932 after six years of work."


def test_trimmed_snippet_keeps_the_answer_and_says_so() -> None:
    long = "word " * 300 + ANSWER + " tail" * 300
    c = cite(snippet=long, end=len(long), answer_start=1500, answer_end=1500 + len(ANSWER))
    sn = snippet_parts(c, 200)
    assert sn.length <= 200
    assert sn.answer == ANSWER
    assert sn.cut_start and sn.cut_end
    assert long.find(sn.before + sn.answer + sn.after) >= 0  # still one exact run of the source
    assert not sn.before.startswith(" ") and not sn.after.endswith(" ")


def test_render_text_found_and_not_found() -> None:
    ans = Answer(question="q", found=True, answer=ANSWER, citations=(cite(),), highlights=((21, 25),))
    out = render_text(ans)
    assert out.startswith("> The bridge opened in **1932** after")
    assert "[1] Bridge history (2020-01-01)" in out and "«The bridge opened" in out
    nf = render_text(Answer(question="q", found=False, answer=None, nearest=("Bridge history",)))
    assert "I couldn't find that in the indexed articles" in nf and "Bridge history" in nf


def test_mentions_are_neutralised() -> None:
    out = neutralize_mentions("hey @everyone and @here, <@123> <@!45> <@&6>")
    assert "@everyone" not in out and "@here" not in out
    assert "<@123>" not in out and "<@!45>" not in out and "<@&6>" not in out


def test_a_follow_up_says_how_it_was_read_in_one_line() -> None:
    from index import Answer

    read = Answer(question="how long had it been around?", found=False, answer=None,
                  read_as="how long had 01.AI\nbeen around?")
    assert render_text(read).splitlines()[0] == "(Reading this as: how long had 01.AI been around?)"
    assert "Reading this as" not in render_text(Answer(question="q?", found=False, answer=None))
