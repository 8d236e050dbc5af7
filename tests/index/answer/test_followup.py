"""Follow-up questions (issue 29): how a question is read after the conversation before it.

The reading rules are pure text work (no model); the last tests ask the real engine.
"""
from __future__ import annotations

import pytest

from index import Answer, Citation, Turn, read_in_context
from index.answer.followup import MAX_TURNS, names

PROFILE = "https://example.org/citebot-samples/01ai-profile"
FOUNDED = Turn(
    question="who founded 01.AI?",
    answer="01.AI is a Beijing-based artificial intelligence startup. It was founded in 2023 by Kai-Fu Lee, the "
           "investor and computer scientist who previously led Google China and later started the venture firm "
           "Sinovation Ventures.",
    title="Who is behind 01.AI? A short profile", source=PROFILE)


@pytest.mark.parametrize(("question", "read_as"), [
    ("how long had it been around?", "how long had 01.AI been around?"),
    ("what were its first models called?", "what were 01.AI's first models called?"),
    ("what did he lead before?", "what did Kai-Fu Lee lead before?"),
    ("what did his firm invest in?", "what did Kai-Fu Lee's firm invest in?"),
    ("and the valuation?", "what about the valuation of 01.AI?"),
    ("how much was it valued at?", "how much was 01.AI valued at?"),
])
def test_a_question_that_leans_on_the_one_before_is_read_with_it(question: str, read_as: str) -> None:
    reading = read_in_context(question, [FOUNDED])
    assert reading.read_as == read_as
    assert reading.prefer == (PROFILE, FOUNDED.title)  # the earlier answer's article is preferred, not forced
    assert "01.ai" in reading.context  # and the earlier question's terms searched with a lower weight


@pytest.mark.parametrize("question", [
    "what is Sora?",  # a name of its own: a switch
    "how long can Sora's clips be?",
    "which country dropped its investigation into Julian Assange?",  # "its" has its antecedent right there
    "who says putting astronauts into hibernation could make it easier to reach other planets?",  # long, no name
    "is it true that the community garden has a tool library and a seed swap?",  # "it" standing for nothing
])
def test_a_question_with_a_subject_of_its_own_is_read_alone(question: str) -> None:
    reading = read_in_context(question, [FOUNDED])
    assert reading.read_as is None and reading.text == question and not reading.prefer and not reading.context


def test_a_short_nameless_question_after_a_not_found_is_read_alone() -> None:
    """After "I couldn't find that", nothing was quoted to lean on: "how much is the fee per season
    for a plot?" is a new question, not "… (Peru)?". A pronoun still points back."""
    refused = Turn(question="what is the capital of Peru?")
    reading = read_in_context("how much is the fee per season?", [refused])
    assert reading.read_as is None and reading.text == "how much is the fee per season?"
    answered = Turn("how much did Acme Corp earn in 2017?", "Acme Corp earned $3m in 2017.", "Acme", "acme.txt")
    assert read_in_context("how much is the fee per season?", [answered]).read_as is not None
    assert read_in_context("when was it founded?", [Turn(question="what is Acme Corp?")]).read_as == "when was Acme Corp founded?"


def test_without_a_conversation_every_question_is_read_alone() -> None:
    assert read_in_context("how long had it been around?", []) == read_in_context("how long had it been around?", ())
    assert read_in_context("how long had it been around?", []).read_as is None


def test_a_place_or_a_day_is_not_a_subject_of_its_own() -> None:
    turn = Turn("how much is Alibaba set to raise from its Hong Kong listing?", "Alibaba is set to raise up to $12.9bn.",
                "Alibaba listing", "https://example.com/baba")
    reading = read_in_context("what did its shares close at in New York on Tuesday?", [turn])
    assert reading.read_as == "what did Alibaba's shares close at in New York on Tuesday?"


def test_a_year_swapped_in_an_elided_question() -> None:
    turn = Turn("how much did Acme Corp earn in 2017?", "Acme Corp earned $3m in 2017.", "Acme", "acme.txt")
    assert read_in_context("and in 2018?", [turn]).read_as == "how much did Acme Corp earn in 2018?"


def test_he_after_a_who_question_is_the_person_the_quote_or_title_named() -> None:
    turn = Turn("who was voted off Dancing with the Stars on Monday?",
                "The former “Dawson’s Creek” star, 42, was voted off in a tight race against singer Ally Brooke.",
                "James Van Der Beek eliminated from 'Dancing with the Stars'", "https://example.com/dwts")
    assert read_in_context("how old is he?", [turn]).read_as == "how old is James Van Der Beek?"


def test_the_filled_in_name_is_searched_but_not_demanded_of_the_quote() -> None:
    reading = read_in_context("how long had it been around?", [FOUNDED])
    assert reading.text == "how long had 01.ai been around?" and reading.filled == "01.AI"
    assert reading.embed_text == "how long had it been around?"  # the sentence is chosen by the question's own words


def test_names_skip_openers_datelines_and_capitalised_adjectives() -> None:
    assert [n.text for n in names(FOUNDED.answer or "")] == ["01.AI", "Kai-Fu Lee", "Google China", "Sinovation Ventures"]
    assert [n.text for n in names("BERLIN -- The European Space Agency says")] == ["European Space Agency"]
    assert [n.text for n in names("what range does the Audi e-tron Sportback have in Europe?")] == [
        "Audi e-tron Sportback", "Europe"]
    assert [n.text for n in names("how much was Coty's deal worth?")] == ["Coty"]


def test_only_the_last_turns_count() -> None:
    old = [Turn(f"what is Thing{i}?") for i in range(10)]
    reading = read_in_context("how big is it?", [*old, FOUNDED])
    assert reading.read_as == "how big is 01.AI?"
    assert MAX_TURNS < len(old)


def test_answer_json_gains_read_as_and_an_answer_becomes_a_turn() -> None:
    cite = Citation(n=1, title="T", date=None, url="https://example.com/a", source="/srv/a.md", snippet="It was.",
                    start=0, end=7, score=1.0, answer_start=0, answer_end=7)
    alone = Answer(question="q?", found=True, answer="It was.", citations=(cite,))
    assert alone.to_json()["read_as"] is None
    read = Answer(question="how old is it?", found=True, answer="It was.", citations=(cite,), read_as="how old is X?")
    assert read.to_json()["read_as"] == "how old is X?"
    assert read.turn() == Turn(question="how old is X?", answer="It was.", title="T", source="https://example.com/a")
    assert Answer(question="q?", found=False, answer=None).turn() == Turn(question="q?")


def test_engine_follow_up_reads_with_context_and_a_switch_as_if_alone(engine) -> None:
    first = engine.ask("who founded 01.AI?")
    assert "Kai-Fu Lee" in (first.answer or "") and first.read_as is None
    follow = engine.ask("what were its first models called?", conversation=[first.turn()])
    assert follow.read_as == "what were 01.AI's first models called?"
    assert follow.question == "what were its first models called?"  # the reply repeats what was typed
    assert "Yi" in (follow.answer or "") and follow.citations[0].url == PROFILE
    switch = engine.ask("what is Sora?", conversation=[first.turn(), follow.turn()])
    alone = engine.ask("what is Sora?")
    assert switch.read_as is None and (switch.answer, switch.citations) == (alone.answer, alone.citations)


@pytest.mark.parametrize(("turn", "read_as"), [
    # A question for a governor asks for a person; the quote's nationality word is nobody.
    (Turn("which former Massachusetts governor is running for president in 2020?",
          "COLUMBIA, S.C. (AP) — The newest 2020 Democratic presidential hopeful, Deval Patrick, stopped by.",
          "Deval Patrick takes nascent 2020 campaign to South Carolina", "u"), "where did Deval Patrick go?"),
    # A Title Case headline names no one by its capitals; an acronym ("UK Tories") is not a person.
    (Turn("who is the chief executive of Full Fact?", "“It was misleading,” Will Moy, chief executive of Full Fact, told the BBC.",
          "UK Tories under fire for Twitter name switch", "u"), "where did Will Moy go?"),
    (Turn("who was the ambassador who testified?", "Former ambassador Marie Yovanovitch testified on Friday.",
          "Does Marie Yovanovitch Have a Net Worth of $17 Million?", "u"), "where did Marie Yovanovitch go?"),
])
def test_person_readings_skip_roles_headlines_and_acronyms(turn: Turn, read_as: str) -> None:
    pronoun = "she" if "Yovanovitch" in read_as else "he"
    assert read_in_context(f"where did {pronoun} go?", [turn]).read_as == read_as


def _reads(turn: Turn, question: str) -> str | None:
    return read_in_context(question, [turn]).read_as


def test_a_person_after_a_title_and_a_name_run_into_its_repeat_by_markup() -> None:
    # A page's hover card glues the name to itself ("WhitfieldDana"): the reading shows the person.
    turn = Turn("which senator is pushing the farm bill?",
                "Iowa Sen. Dana WhitfieldDana Whitfield: Farm bill clears committee is pushing the bill this week.",
                "Iowa senator pushes farm bill", "u")
    assert _reads(turn, "what did she say?") == "what did Dana Whitfield say?"
    assert [n.text for n in names("shares of GateHouse and McDonald rose")] == ["GateHouse", "McDonald"]  # own capitals


def test_the_person_with_the_title_the_question_asked_for_wins_over_a_nearer_name() -> None:
    turn = Turn("which governor signed the water law?",
                "Gov. Helen Ortiz, who first proposed it last spring, said the water law was signed by deputy Paul Tran on Friday.",
                "Water law passes", "u")
    assert _reads(turn, "where was she born?") == "where was Helen Ortiz born?"


def test_a_place_is_nobody_and_they_is_what_a_plural_question_asked_for() -> None:
    turn = Turn("which two engineers did the rebels free in the swap?",
                "Two hostages held by the rebels in Norland since 2016 were freed on Tuesday.", "Hostages freed", "u")
    assert _reads(turn, "where did they work?") == "where did the two engineers work?"
    assert _reads(turn, "how old is he?") is None  # nobody named: the pronoun stays, never "Norland"


def test_they_is_the_team_the_question_was_about() -> None:
    turn = Turn("who did the Hornets lose to on Sunday?", "Coach Ana Lutz said the Hornets played badly in the loss to the Owls.",
                "Hornets fall", "u")
    assert _reads(turn, "what is their record?") == "what is the Hornets' record?"


@pytest.mark.parametrize(("turn", "question", "read_as"), [
    # the thing the question is about, not the place in its modifier
    (Turn("where did the chemical spill on the Delmont railway happen?", "The spill happened near Carver.", "Spill", "u"),
     "what caused it?", "what caused the chemical spill?"),
    # "which virus …?": the virus, never the place or the ordinal
    (Turn("which virus caused a 6th death in Ohio on Tuesday?", "Officials reported the sixth death.", "Virus", "u"),
     "how many cases has it caused?", "how many cases has the virus caused?"),
    # "Norland's Green Party": the party, not Norland
    (Turn("what did Norland's Green Party rename its account to?", "It renamed it.", "Renamed", "u"),
     "what did it change it back to?", "what did Green Party change it back to?"),
    # the main clause's subject: the company asked for, not the one it bought; after "which car did
    # Tesla unveil?" the asked-for thing is an object, and the question's own name stays
    (Turn("which company bought Fitbit?", "Google agreed to buy Fitbit for $2.1 billion.", "Deal", "u"),
     "how much did it pay?", "how much did the company pay?"),
    (Turn("which car did Tesla unveil in Los Angeles?", "Tesla unveiled a pickup.", "Pickup", "u"),
     "how much is it worth?", "how much is Tesla worth?"),
    # "he" is never a place, even the only name of the question
    (Turn("how many people did the storm kill in Texas?", "The storm killed 12 people, Gov. Greg Abbott said.", "Storm", "u"),
     "what did he say?", "what did Greg Abbott say?"),
    # a company and a person in one question: "he" is the person, "it" the company
    (Turn("how much did Acme Corp pay Maria Lopez last year?", "Acme Corp paid her $2m.", "Pay", "u"),
     "how much is it worth?", "how much is Acme Corp worth?"),
    (Turn("how much did Acme Corp pay Maria Lopez last year?", "Acme Corp paid her $2m.", "Pay", "u"),
     "how old is she?", "how old is Maria Lopez?"),
])
def test_it_stands_for_a_thing_of_the_earlier_question(turn: Turn, question: str, read_as: str) -> None:
    assert _reads(turn, question) == read_as


def test_a_day_or_an_ordinal_in_the_answer_is_never_it() -> None:
    turn = Turn("what opened downtown?", "On Tuesday, the 6th Avenue Market opened downtown.", "Market opens", "u")
    assert _reads(turn, "how big is it?") == "how big is 6th Avenue Market?"
    turn = Turn("what opened downtown?", "Tuesday saw 6th place go to Harbor Hall, which opened downtown.", "Opening", "u")
    assert _reads(turn, "how big is it?") == "how big is Harbor Hall?"


@pytest.mark.parametrize(("turn", "question", "read_as"), [
    # "owns" is the verb of "which label owns …?"; "members" in "which founding members of …" is not
    (Turn("which label owns most of the singer's songs?", "Her songs belong to Northstar.", "Songs", "u"),
     "who bought it?", "who bought the label?"),
    (Turn("which founding members of the band will reunite?", "Ana Ruiz and Tom Lee will reunite.", "Reunion", "u"),
     "where will they play?", "where will the founding members play?"),
    # a relative clause ends the phrase; "the name of …" is what was asked, not what it is about
    (Turn("where is the dam that farmers in Norland tried to block?", "The dam is near Carver.", "Dam", "u"),
     "how tall is it?", "how tall is the dam?"),
    (Turn("what is the new sensor from Acme Corp called?", "The sensor, called Vigil One, ships in May.", "Vigil", "u"),
     "how much does it cost?", "how much does Vigil One cost?"),
    # "which team did … beat?" then "their": the team the answer named
    (Turn("which team did the Hornets beat on Sunday?", "The Hornets beat the Owls 3-1 at home.", "Win", "u"),
     "who is their coach?", "who is the Owls' coach?"),
])
def test_what_a_which_or_what_question_asked_for(turn: Turn, question: str, read_as: str) -> None:
    assert _reads(turn, question) == read_as


def test_the_person_the_question_named_is_not_the_answer_even_with_a_title() -> None:
    turn = Turn("who did Mayor Rita Vance name police chief?",
                "Attorney General Rita Vance named Omar Haddad as the new chief in a ceremony where officers gathered.",
                "Rita Vance names police chief", "u")
    assert _reads(turn, "how old is he?") == "how old is Omar Haddad?"


def test_a_title_confirms_a_name_only_near_the_question_words() -> None:
    # The title is about the prisoner; the quote names the warden next to "appointed".
    turn = Turn("who did the minister appoint as warden?",
                "The minister appointed Lena Ortiz as warden on Monday, months after a regional inquiry into the many security failures "
                "opened at the jail where John Marsh was held.",
                "Inquiry into John Marsh's escape", "u")
    assert _reads(turn, "when did she start?") == "when did Lena Ortiz start?"
    assert [n.text for n in names("Officers arrested Ambassador Jo Park on Monday.")] == ["Jo Park", "Monday"]


def test_a_person_named_only_through_a_place_is_the_phrase_or_the_one_filling_the_role() -> None:
    found = Turn("where did rangers find the missing Alder Creek boy?", "They found him asleep in a hay barn.", "Found", "u")
    assert _reads(found, "who took him home?") == "who took the missing Alder Creek boy home?"  # never "Alder Creek"
    said = Turn("what did the Norland governor say on Monday?", "Gov. Ada Brandt said the bridge would reopen.", "Bridge", "u")
    assert _reads(said, "when was she elected?") == "when was Ada Brandt elected?"  # a role: the person who holds it


def test_an_elided_name_asks_the_earlier_question_about_it() -> None:
    turn = Turn("how many points did the Harbour Index fall on Tuesday?",
                "The Harbour Index fell 81 points, while the Ridge Composite added 12 points.", "Markets", "u")
    assert _reads(turn, "and the Ridge Composite?") == "how many points did the Ridge Composite fall on Tuesday?"
    assert _reads(turn, "and the volume?") == "what about the volume of Harbour Index?"  # not a name: about the subject


def test_they_after_which_team_is_a_team_the_answer_named_never_a_person() -> None:
    turn = Turn("which team did Larkspur beat 31-10?",
                "Ada Voss threw for two touchdowns and Larkspur rolled past the Ospreys, 31-10.", "Rout", "u")
    assert _reads(turn, "what is their record?") == "what is the Ospreys' record?"
    ross = Turn("which team did Larkspur beat 31-10?", "Tom Ross threw for two touchdowns as Larkspur won 31-10.", "Rout", "u")
    assert "Ross" not in (_reads(ross, "what is their record?") or "")  # "Ross" ends in -s but is no plural
