"""Issue 12: the fitted models as a checked data file, closest passages when nothing answers, and
quotes that stand on their own."""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from bot.discord import render as rd
from bot.render.text import render_text
from bot.service import Asker, CitebotService
from bot.slack import render as rs
from index.answer.select import EVIDENCE, FEATURES, FittedModelError, TreeScorer, fitted_path, load_fitted
from index.engine import Document, Engine
from tests.bot.test_cli import CITATION_KEYS, run
from tests.conftest import EXAMPLES, SHARED_EVAL

# --- the data file ------------------------------------------------------------------------------


def _shipped() -> dict:
    return json.loads(fitted_path().read_text(encoding="utf-8"))


def test_shipped_models_score_the_check_rows_exactly_as_the_fitting_code_did() -> None:
    # The check rows and their scores were written by the bench scripts from scikit-learn's own
    # decision_function / predict_proba: the runtime evaluation must reproduce them.
    data, fitted = _shipped(), load_fitted()
    assert fitted is not None and fitted.confidence is not None
    check = data["scorer"]["provenance"]["check"]
    got = fitted.scorer.score(np.array(check["rows"]))
    assert np.allclose(got, check["scores"], rtol=0, atol=1e-9)
    check = data["confidence"]["provenance"]["check"]
    got = [fitted.confidence.raw(r) for r in check["rows"]]
    assert np.allclose(got, check["probabilities"], rtol=0, atol=1e-9)


def test_shipped_file_names_its_features_and_provenance() -> None:
    data = _shipped()
    assert data["scorer"]["features"] == list(FEATURES)
    assert data["confidence"]["evidence"] == list(EVIDENCE)
    for section, script in (("scorer", "bench/train_selector.py"), ("confidence", "bench/refusal.py")):
        prov = data[section]["provenance"]
        assert prov["script"].startswith(script) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", prov["date"]) and prov["seed"] == 0
        for name, digest in prov["data"].items():
            assert re.fullmatch(r"[0-9a-f]{64}", digest)
            shared = SHARED_EVAL / name
            if shared.exists():  # the file it was fitted on is the one in ../shared
                assert hashlib.sha256(shared.read_bytes()).hexdigest() == digest
    assert 0.0 < data["confidence"]["threshold"] < 1.0
    assert fitted_path().stat().st_size < 2_000_000


@pytest.mark.parametrize("section,key", [("scorer", "features"), ("confidence", "evidence")])
def test_a_file_made_for_other_features_is_refused_with_a_clear_error(tmp_path: Path, section: str, key: str) -> None:
    data = _shipped()
    data[section][key] = list(reversed(data[section][key]))
    path = tmp_path / "fitted.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FittedModelError, match="fitted on .* but the code computes .*rerun bench/"):
        load_fitted(path)
    path.write_text("{not json")
    with pytest.raises(FittedModelError, match="not valid JSON"):
        load_fitted(path)
    assert load_fitted(tmp_path / "absent.json") is None  # no file: the hand-set scores decide


def test_exported_trees_score_like_sklearn() -> None:
    # The export the bench scripts store is evaluated exactly like sklearn's own model.
    sklearn = pytest.importorskip("sklearn", reason="scikit-learn is the training extra: pip install .[train]")
    from bench.train_selector import export, fit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, len(FEATURES)))
    y = (X[:, 0] + 0.5 * X[:, 3] - X[:, 7] * X[:, 1] > 0).tolist()
    clf = fit([{"rows": X.tolist(), "label": y}], 20, 3, 0.1)
    scorer = TreeScorer(export(clf), FEATURES)
    assert sklearn is not None and np.allclose(scorer.score(X[:50]), clf.decision_function(X[:50]), rtol=0, atol=1e-9)


# --- closest passages when nothing answers -----------------------------------------------------


def test_not_found_shows_the_closest_passages_labelled_not_an_answer(engine: Engine) -> None:
    engine.composer.min_confidence = 1.01  # nothing may pass: every question is "not found"
    ans = engine.ask("How many vegetable plots did the Riverside community garden open?")
    assert not ans.found and ans.answer is None and ans.citations == ()
    assert 1 <= len(ans.closest) <= 3
    assert "garden" in ans.closest[0].title.lower()
    for c in ans.closest:
        assert c.answer_start is None and c.answer_end is None  # never marked as an answer
        assert set(c.to_json()) == set(ans.closest[0].to_json())
    obj = ans.to_json()
    assert obj["citations"] == [] and len(obj["closest"]) == len(ans.closest)
    text = render_text(ans)
    assert text.startswith("I couldn't find a sentence that answers that.") and "not an answer" in text
    assert "Riverside" in text
    content = rd.render_not_found(ans)
    assert content.startswith("I couldn't find a sentence that answers that.") and "not an answer" in content
    assert len(content) <= rd.CONTENT_LIMIT and "@everyone" not in content
    assert rd.render_answer(ans).content == content
    msg = rs.render_not_found(ans)
    blob = json.dumps(msg.blocks)
    assert "answers that" in msg.text and "not an answer" in blob and "Riverside" in blob
    assert rs.render_answer(ans).blocks == msg.blocks
    # A question no passage shares a word with still gets the plain "not found".
    plain = engine.ask("zzyzx qwertyuiop?")
    assert not plain.found and plain.closest == () and "not an answer" not in render_text(plain)


def test_closest_passages_come_only_from_the_askers_collections(engine: Engine) -> None:
    from bot.feedback import FeedbackStore

    svc = CitebotService(engine, FeedbackStore(engine.index_dir / "fb.sqlite"), rate_limit_per_minute=0)
    a, b = Asker("discord", "u1", "guildA"), Asker("slack", "u2", "guildB")
    secret = b"Harbour ferry timetable\n\nThe night ferry to the island leaves every ninety minutes from the north pier.\n"
    assert asyncio.run(svc.ingest_upload("ferry.txt", secret, b)).ok
    engine.composer.min_confidence = 1.01
    q = "How often does the night ferry to the island leave the north pier?"
    in_b, in_a = svc.ask_sync(q, b), svc.ask_sync(q, a)
    assert not in_b.found and any("ninety" in c.snippet for c in in_b.closest)  # the owner sees it
    assert not in_a.found
    assert not any(c.collection == "discord:guildB" or "ninety" in c.snippet for c in in_a.closest)
    assert "ninety" not in render_text(in_a) and "ninety" not in rd.render_not_found(in_a)


def test_cli_json_adds_closest_and_keeps_citations_empty(tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    assert run("ingest", "--index", ix, str(EXAMPLES)).returncode == 0
    q = "How many vegetable plots did the Riverside community garden open?"
    r = run("ask", "--index", ix, "--json", q, env={"CITEBOT_MIN_CONFIDENCE": "1.0"})
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["found"] is False and obj["citations"] == [] and 1 <= len(obj["closest"]) <= 3
    for c in obj["closest"]:
        assert CITATION_KEYS <= set(c) and c["answer_start"] is None
    r = run("ask", "--index", ix, q, env={"CITEBOT_MIN_CONFIDENCE": "1.0"})
    assert r.returncode == 0 and "I couldn't find a sentence that answers that." in r.stdout and "not an answer" in r.stdout


# --- a quote that stands on its own -------------------------------------------------------------

ROCKETS = (
    "Acme Rockets\n\n"
    "Acme Rockets is a launch company based in Tromsø, Norway. It was founded in 1987 by Ingrid Solberg. "
    "The firm builds small sounding rockets for weather research.\n\n"
    "Ingrid Solberg studied physics in Bergen before she started the firm.\n"
)


BOREALIS = (
    "Notes from the field\n\n"
    "Borealis station\n\n"
    "It opened in 2003 on the coast of Svalbard as a small weather station for the Borealis project.\n"
)


def test_a_leaning_answer_sentence_is_quoted_with_the_sentence_before(tmp_path: Path, embedder) -> None:
    eng = Engine(tmp_path / "ix", embedder, min_confidence=0.0)
    assert eng.ingest([Document(name="acme.txt", source="acme.txt", data=ROCKETS.encode())]).ok
    ans = eng.ask("In which year was Acme Rockets founded?")
    assert ans.found
    assert ans.answer == "Acme Rockets is a launch company based in Tromsø, Norway. It was founded in 1987 by Ingrid Solberg."
    c = ans.citations[0]
    assert c.snippet[c.answer_start:c.answer_end] == ans.answer  # still one exact, contiguous slice
    assert [ans.answer[s:e] for s, e in ans.highlights] in ([], ["1987"])  # bold words moved with it
    # A sentence that stands alone is quoted alone.
    ans = eng.ask("Where did Ingrid Solberg study physics?")
    assert ans.found and ans.answer == "Ingrid Solberg studied physics in Bergen before she started the firm."
    # A heading above a leaning sentence is not a sentence to quote with it.
    assert eng.ingest([Document(name="borealis.txt", source="borealis.txt", data=BOREALIS.encode())]).ok
    ans = eng.ask("When did the Borealis weather station open?")
    assert ans.found and ans.answer == "It opened in 2003 on the coast of Svalbard as a small weather station for the Borealis project."


def test_shell_shows_the_closest_passages_when_nothing_answers(service: CitebotService) -> None:
    import io

    from bot.shell import run_shell

    service.engine.composer.min_confidence = 1.01
    out = io.StringIO()
    run_shell(service, stdin=io.StringIO("How many vegetable plots did the Riverside community garden open?\n"), stdout=out)
    text = out.getvalue()
    assert "I couldn't find a sentence that answers that." in text and "Closest passages (not an answer):" in text
    assert "Riverside" in text
