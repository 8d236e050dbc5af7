"""Help channels in the service: what counts as a question, when citebot stays silent, channel rules."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.channels import (
    ChannelRule,
    ChannelStore,
    parse_channel_collections,
    parse_channel_list,
    parse_collection_names,
)
from bot.config import Settings
from bot.discord.app import check_limits
from bot.feedback import FeedbackStore
from bot.service import AUTO_CONFIDENCE_FILE, Asker, CitebotService, is_question, load_auto_confidence
from index.answer.compose import DEFAULT_MIN_CONFIDENCE
from index.errors import UserError


@pytest.mark.parametrize("text", [
    "Who founded 01.AI?", "hey, how much do plot holders pay per season", "Does anyone know when Python 3.13 came out",
    "quick question: is the garden open in winter?", "<@U123> what is Sora?", "when's the next release?)",
])
def test_questions_are_recognised(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize("text", [
    "thanks, that worked!", "lol same", "Done with the deploy.", "?", "ok ok ok", "I fixed it, see the PR.",
    "<@U123> <#C1>", "",
])
def test_chatter_is_not_a_question(text: str) -> None:
    assert not is_question(text)


def helpdesk(engine, **kw) -> CitebotService:
    channels = ChannelStore(engine.index_dir / "channels.sqlite", auto_channels=frozenset({"C1"}),
                            collections={"C2": ("hr", "uploads")})
    return CitebotService(engine, FeedbackStore(engine.index_dir / "feedback.sqlite"), rate_limit_per_minute=0,
                          channels=channels, **kw)


def test_confident_answers_only_and_the_rest_recorded_as_unanswered(engine) -> None:
    asker = Asker("slack", "U1", "T1", channel="C1")
    sure = helpdesk(engine, auto_min_confidence=DEFAULT_MIN_CONFIDENCE)
    answer = sure.auto_answer_sync("Who founded 01.AI?", asker)
    assert answer is not None and "Kai-Fu Lee" in (answer.answer or "")
    # the same question, found, but under a stricter threshold: silent, and listed with the answer it would have given
    strict = helpdesk(engine, auto_min_confidence=1.01)
    assert strict.auto_answer_sync("Who founded 01.AI?", asker) is None
    (row,) = strict.feedback.report()
    assert (row.kind, row.question, row.user) == ("unanswered", "Who founded 01.AI?", "U1")
    assert "Kai-Fu Lee" in (row.answer or "")
    # chatter is neither answered nor recorded; an answer to /ask is never marked unanswered
    assert strict.auto_answer_sync("thanks, that worked!", asker) is None
    strict.ask_sync("What is the capital of France?", Asker("slack", "U2", "T1"))
    assert [r.kind for r in strict.feedback.report()] == ["not found", "unanswered"]


def test_per_channel_limit_keeps_citebot_quiet(engine) -> None:
    service = helpdesk(engine, auto_min_confidence=DEFAULT_MIN_CONFIDENCE, auto_per_channel_per_minute=1)
    first = service.auto_answer_sync("Who founded 01.AI?", Asker("discord", "1", "9", channel="C1"))
    second = service.auto_answer_sync("When was Python 3.13 released?", Asker("discord", "2", "9", channel="C1"))
    other = service.auto_answer_sync("When was Python 3.13 released?", Asker("discord", "2", "9", channel="C3"))
    assert first is not None and second is None and other is not None
    assert [r.question for r in service.feedback.report() if r.kind == "unanswered"] == ["When was Python 3.13 released?"]


def test_channel_collections_and_uploads_of_the_own_scope_only(engine) -> None:
    service = helpdesk(engine)
    assert service.collections_for(Asker("slack", "U1", "T1", channel="C2")) == ["hr", "slack:T1"]
    assert service.collections_for(Asker("slack", "U1", "T1", channel="C9")) == ["global", "slack:T1"]
    assert service.collections_for(Asker("slack", "U1", None)) == ["global"]  # DMs: today's rule
    with pytest.raises(UserError, match="not a collection name"):
        parse_collection_names("hr, discord:123")


def test_admin_choices_survive_a_restart_and_override_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "channels.sqlite"
    store = ChannelStore(path, auto_channels=frozenset({"C1"}), collections={"C1": ("hr",)})
    assert store.rule("slack", "C1").auto and store.rule("slack", "C1").collections == ("hr",)
    assert store.any_auto("discord") and store.any_auto("slack")  # the setting's ids serve both platforms
    store.set("slack", "C1", "T1", auto=False, collections=())
    store.set("discord", "42", "7", auto=True)
    store.close()
    again = ChannelStore(path, auto_channels=frozenset({"C1"}), collections={"C1": ("hr",)})
    assert again.rule("slack", "C1") == ChannelRule(auto=False, collections=())
    assert again.rule("discord", "42").auto and ChannelStore(path).any_auto("discord")
    assert not ChannelStore(path).any_auto("slack") and not ChannelStore(None).any_auto("discord")


def test_settings_lists_are_read_and_bad_ones_explained() -> None:
    assert parse_channel_list(" C1, C2  123") == {"C1", "C2", "123"}
    assert parse_channel_collections("C1=hr; 123=hr, policies;") == {"C1": ("hr",), "123": ("hr", "policies")}
    with pytest.raises(UserError, match="CHANNEL_ID=collection"):
        parse_channel_collections("C1 hr")
    s = Settings(_env_file=None, CITEBOT_AUTO_CHANNELS="C1", CITEBOT_AUTO_MIN_CONFIDENCE="",
                 CITEBOT_CHANNEL_COLLECTIONS="C1=hr")
    assert (s.auto_channels, s.auto_min_confidence, s.auto_per_channel_per_minute) == ("C1", None, 6)


def test_fitted_auto_threshold_is_above_the_ask_one_and_checked_at_load(tmp_path: Path) -> None:
    data = json.loads(AUTO_CONFIDENCE_FILE.read_text())
    assert data["provenance"]["made_by"].startswith("python bench/reply_length.py --fit")
    assert load_auto_confidence() == data["threshold"] >= DEFAULT_MIN_CONFIDENCE
    bad = tmp_path / "auto.json"
    for text in ("{}", '{"threshold": 2, "provenance": {"x": 1}}', '{"threshold": 0.5}', "not json"):
        bad.write_text(text)
        with pytest.raises(RuntimeError, match="reply_length.py"):
            load_auto_confidence(bad)


def test_discord_refuses_question_limits_discord_would_reject() -> None:
    check_limits(Settings(_env_file=None, CITEBOT_MAX_QUESTION_CHARS="6000"))
    with pytest.raises(UserError, match="6,000"):
        check_limits(Settings(_env_file=None, CITEBOT_MAX_QUESTION_CHARS="6001"))


def test_feedback_files_from_before_help_channels_are_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE feedback (id INTEGER PRIMARY KEY, at REAL NOT NULL, platform TEXT NOT NULL, "
                       "scope TEXT, user TEXT, question TEXT NOT NULL, answer TEXT, vote INTEGER NOT NULL);"
                       "INSERT INTO feedback (at, platform, question, vote) VALUES (1, 'slack', 'old?', 0);")
    conn.commit()
    conn.close()
    store = FeedbackStore(path)
    store.record(platform="discord", question="new?", vote=0, auto=True)
    assert [(r.question, r.kind) for r in store.report()] == [("new?", "unanswered"), ("old?", "not found")]


def test_another_replica_sees_an_admins_change_after_its_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here, there = ChannelStore(tmp_path / "c.sqlite"), ChannelStore(tmp_path / "c.sqlite")
    assert not there.rule("slack", "C1").auto
    here.set("slack", "C1", "T1", auto=True)
    assert here.rule("slack", "C1").auto  # its own change, at once
    monkeypatch.setattr(ChannelStore, "REFRESH_SECONDS", 0.0)
    assert there.rule("slack", "C1").auto


def test_citebot_feedback_lists_unanswered_help_channel_questions(tmp_path: Path) -> None:
    from tests.bot.test_cli import run

    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store.record(platform="discord", scope="9", user="1", question="Who is the mayor?", answer="A guess.", vote=0, auto=True)
    store.record(platform="slack", scope="T1", user="U1", question="What is X?", vote=0)
    store.close()
    rows = json.loads(run("feedback", "--json", "--index", str(tmp_path)).stdout)
    assert [(r["kind"], r["question"], r["auto"]) for r in rows] == [
        ("not found", "What is X?", 0), ("unanswered", "Who is the mayor?", 1)]
    text = run("feedback", "--index", str(tmp_path)).stdout
    assert "unanswered  discord:9  Who is the mayor?" in text and "not posted: A guess." in text
