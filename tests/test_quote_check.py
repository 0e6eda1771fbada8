"""The quote check: an answer stands on a verbatim quote that contains it (qa.answer.quotes,
qa.answer.grounding), checked with plain passages and the fake model's replies."""

from __future__ import annotations

import json

import pytest
from answer_helpers import EMBEDDER

from qa.answer.evidence import build_evidence
from qa.answer.grounding import parse_reply, verify
from qa.answer.quotes import (
    answer_in_quote,
    find_quote,
    fits_question,
    is_headline,
    is_question,
    names_not_in,
)
from qa.types import Passage

SEED = (
    "North Korea blew up an office set up to foster better ties with South Korea in its "
    "border town of Kaesong on Tuesday, Reuters reported.\n\n"
    "North Korea’s KCNA state news said the liaison office was “tragically ruined with a "
    "terrific explosion”.\n\n"
    "South Korea spent at least 9.78 billion won (US$8.6 million) in 2018 to renovate the "
    "building, which stood as a gleaming four-storey blue glass structure."
)
SPORTS = (
    "Super Bowl Champions Through the Years\n\n"
    "What NFL teams have never won a Super Bowl?\n\n"
    "Four franchises have never reached the game at all."
)


def _passage(text: str, title: str, n: int) -> Passage:
    return Passage(doc_id=f"d{n}", title=title, source=f"s{n}", published=None, text=text,
                   start=0, end=len(text), score=0.5, chunk_index=0, chunk_id=f"c{n}")


@pytest.fixture(scope="module")
def seed_evidence():
    def make(question: str):
        return build_evidence(question, [_passage(SEED, "Liaison office", 1),
                                         _passage(SPORTS, "Super Bowl", 2)], EMBEDDER.encode)
    return make


def _reply(answer: str, passage: int, quote: str) -> str:
    return json.dumps({"answer": answer, "passage": passage, "quote": quote})


def test_one_word_answer_with_real_quote_passes(seed_evidence):
    ev = seed_evidence("In which town was the office?")
    quote = ("North Korea blew up an office set up to foster better ties with South Korea in "
             "its border town of Kaesong on Tuesday, Reuters reported.")
    v = verify(parse_reply(_reply("Kaesong", 1, quote)), ev)
    assert v is not None and v.answer == "Kaesong" and v.passage_index == 0
    assert SEED[v.quote_start:v.quote_end] == quote
    assert not v.quote_by_code and not v.corrected


def test_quote_differing_in_whitespace_and_typographic_quotes_passes(seed_evidence):
    ev = seed_evidence("How did KCNA describe what happened to the liaison office?")
    quote = ('North  Korea\'s KCNA state news said the liaison office was\n"tragically '
             'ruined with a terrific explosion".')
    v = verify(parse_reply(_reply("tragically ruined", 1, quote)), ev)
    assert v is not None and not v.quote_by_code
    # the highlighted span is the article's own text, with its own typography
    assert SEED[v.quote_start:v.quote_end].startswith("North Korea’s KCNA")
    assert SEED[v.quote_start:v.quote_end].endswith("explosion”.")


def test_case_difference_passes():
    assert find_quote("SOUTH KOREA SPENT at least 9.78 billion won", SEED) == (
        SEED.index("South Korea spent"), SEED.index("South Korea spent") + 43)


def test_question_sentence_fails(seed_evidence, monkeypatch):
    """A quote that is a question asserts nothing. The claim passes every other rule (a short
    answer the quote holds, a sentence about the question), so the question rule alone
    refuses it: with that rule off, the same claim is shown."""
    from qa.answer import quotes

    ev = seed_evidence("Which league's teams have never won a Super Bowl?")
    claim = parse_reply(_reply("NFL", 2, "What NFL teams have never won a Super Bowl?"))
    assert verify(claim, ev) is None
    assert is_question("What NFL teams have never won a Super Bowl?")
    monkeypatch.setattr(quotes, "is_question", lambda sentence: False)
    assert verify(claim, ev) is not None, "another rule refuses it: this test checks nothing"


def test_headline_fails(seed_evidence, monkeypatch):
    """A headline asserts nothing. The claim passes every other rule (its words are in the
    quote, the headline is about the question), so the headline rule alone refuses it: with
    that rule off, the same claim is shown."""
    from qa.answer import quotes

    ev = seed_evidence("Which game's champions are listed through the years?")
    claim = parse_reply(_reply("Super Bowl", 2, "Super Bowl Champions Through the Years"))
    assert verify(claim, ev) is None
    assert is_headline("Super Bowl Champions Through the Years")
    assert is_headline("North Korea Blows up Liaison Office on Its Side of Border With South")
    assert not is_headline("Four franchises have never reached the game at all.")
    monkeypatch.setattr(quotes, "is_headline", lambda sentence: False)
    assert verify(claim, ev) is not None, "another rule refuses it: this test checks nothing"


def test_answer_absent_from_quote_fails(seed_evidence):
    ev = seed_evidence("In which town was the office?")
    quote = ("North Korea’s KCNA state news said the liaison office was “tragically ruined "
             "with a terrific explosion”.")
    # the quote is real but does not say Pyongyang, and no passage sentence does
    assert verify(parse_reply(_reply("Pyongyang", 1, quote)), ev) is None


def test_invented_quote_and_answer_fail(seed_evidence):
    ev = seed_evidence("How much did South Korea spend on the building?")
    claim = parse_reply(_reply("450 billion won", 1, "South Korea spent 450 billion won."))
    assert verify(claim, ev) is None


def test_wrong_passage_number_is_corrected(seed_evidence):
    ev = seed_evidence("How much did South Korea spend on the building?")
    quote = "South Korea spent at least 9.78 billion won (US$8.6 million) in 2018"
    v = verify(parse_reply(_reply("9.78 billion won", 2, quote)), ev)
    assert v is not None and v.passage_index == 0 and v.corrected


def test_plain_text_reply_still_works(seed_evidence):
    """A backend with no JSON mode: "answer [n]" and the quote is found by code."""
    ev = seed_evidence("In which town was the office?")
    v = verify(parse_reply("Kaesong [1]."), ev)
    assert v is not None and v.quote_by_code
    assert "Kaesong" in SEED[v.quote_start:v.quote_end]


def test_decline_and_echoed_question_are_refused(seed_evidence):
    ev = seed_evidence("What is the capital of France?")
    assert verify(parse_reply(_reply("NOT IN ARTICLES", 0, "")), ev) is None
    assert verify(parse_reply("NOT IN ARTICLES"), ev) is None
    assert verify(parse_reply(_reply("Paris", 1, "Paris is the capital of France.")), ev) is None


def test_answer_words_given_by_question_do_not_count():
    q = "How many storeys did the building have?"
    assert answer_in_quote("four storeys", "a gleaming four-storey blue glass structure", q)
    assert answer_in_quote("4", "a gleaming four-storey blue glass structure", q)
    assert not answer_in_quote("the building", "the building stood", q)  # claims nothing
    # the question's own word without its ending is not a claim either
    q = "Where did the South Korean staff stay while working in the North?"
    assert not answer_in_quote("South Korea", "staff returned to South Korea", q)
    assert answer_in_quote("residential facilities", "residential facilities in Kaesong", q)


def test_a_percentage_must_be_a_percentage_in_the_quote():
    q = "By roughly what percentage did the won lose ground against the dollar?"
    assert not answer_in_quote("8.6%", "at least 9.78 billion won (US$8.6 million)", q)
    assert answer_in_quote("0.7%", "weakened by about 0.7% against the dollar", q)
    assert answer_in_quote("0.7 percent", "weakened by about 0.7% against the dollar", q)


def test_answer_kind_fits_the_question():
    assert not fits_question("dozens", "How often did South Koreans travel into the North?")
    assert fits_question("each week", "How often did South Koreans travel into the North?")
    assert fits_question("9.78 billion won", "How much did Seoul spend?")
    assert fits_question("four", "How many floors did the building have?")
    assert not fits_question("Kaesong", "How many floors did the building have?")
    assert fits_question("2018", "When was the office set up?")
    assert fits_question("on Tuesday", "When was the office blown up?")
    assert not fits_question("Kim Yo Jong", "When was the office blown up?")
    assert fits_question("Kim Yo Jong", "Who ordered the next action?")


def test_a_part_of_a_name_is_widened_to_the_whole_name():
    from qa.answer.quotes import complete_name

    assert complete_name("Bills", "Hamlin, a safety for the Buffalo Bills, collapsed.") == (
        "Buffalo Bills")
    assert complete_name("South Korea", "efforts by South Korea’s President Moon Jae-in") == (
        "South Korea")
    assert complete_name("January", "In January, the office closed.") == "January"
    assert complete_name("sesame", "sesame seeds") == "sesame"


def test_a_reply_held_to_the_schema_has_no_quote_and_code_finds_it(seed_evidence):
    """The grammar ends the reply after the passage number (qa.answer.grounding.answer_schema):
    the sentence that holds the answer becomes the quote; a wrong answer still finds none."""
    from qa.answer.grounding import answer_schema

    schema = answer_schema(2)
    assert schema["required"] == ["answer", "passage"] and "quote" not in schema["properties"]
    ev = seed_evidence("How much did South Korea spend on the building?")
    v = verify(parse_reply('{"answer": "9.78 billion won", "passage": 1}'), ev)
    assert v is not None and v.quote_by_code and not v.corrected
    assert SEED[v.quote_start:v.quote_end].startswith("South Korea spent at least 9.78")
    assert verify(parse_reply('{"answer": "12 billion won", "passage": 1}'), ev) is None
    ev = seed_evidence("Which NFL team recently won the Super Bowl?")
    assert verify(parse_reply('{"answer": "What NFL teams have never won", "passage": 2}'),
                  ev) is None


def test_a_plain_text_reply_names_its_passage_in_any_marker_form():
    for raw in ("Kaesong [1].", "Kaesong [Passage 1].", "Kaesong [1, 3]."):
        claim = parse_reply(raw)
        assert (claim.answer, claim.passage, claim.structured) == ("Kaesong.", 1, False)


def test_the_answer_tokens_are_picked_out_of_the_reply():
    from qa.answer.confidence import answer_logprobs, first_token_prob

    tokens = [('{"answer": "', 0.0), ("Ka", -0.3), ("es", -0.01), ("ong", 0.0),
              ('", "passage": 1}', 0.0)]
    assert answer_logprobs(tokens) == (-0.3, -0.01, 0.0)
    assert first_token_prob(answer_logprobs(tokens)) == pytest.approx(0.7408, abs=1e-4)
    # a token that straddles the value's start counts; an empty or plain-text answer gives none
    assert answer_logprobs([('{"answer": "Ka', -0.5), ('esong"}', -0.1)]) == (-0.5, -0.1)
    assert answer_logprobs([('{"answer": "', 0.0), ('", "passage": 0}', 0.0)]) == ()
    assert answer_logprobs([("Kaesong [1].", -0.2)]) == ()
    assert first_token_prob(()) is None


def test_how_sure_the_model_was_moves_the_relevance_floor(seed_evidence, monkeypatch):
    """A guess the model hesitated over is refused; a sure answer needs its sentence to be
    less about the question's words (a paraphrase), and without probabilities nothing
    changes."""
    from qa.answer import grounding

    monkeypatch.setattr(grounding, "MIN_CONFIDENCE", 0.3)
    monkeypatch.setattr(grounding, "CONFIDENT", 0.5)
    monkeypatch.setattr(grounding, "CONFIDENT_FLOOR", 0.2)
    assert grounding.relevance_floor(None) == grounding.RELEVANCE_FLOOR
    assert grounding.relevance_floor(0.4) == grounding.RELEVANCE_FLOOR
    assert grounding.relevance_floor(0.9) == 0.2
    ev = seed_evidence("In which town was the office?")
    reply = parse_reply('{"answer": "Kaesong", "passage": 1}')
    assert verify(reply, ev, 0.9) is not None
    assert verify(reply, ev, None) is not None
    assert verify(reply, ev, 0.1) is None
    # a sentence scoring between the two floors passes only when the model was sure
    v = verify(reply, ev, 0.9)
    monkeypatch.setattr(grounding, "CONFIDENT_FLOOR", v.relevance - 0.01)
    monkeypatch.setattr(grounding, "RELEVANCE_FLOOR", v.relevance + 0.01)
    assert verify(reply, ev, 0.9) is not None
    assert verify(reply, ev, 0.4) is None and verify(reply, ev, None) is None


def test_a_question_asking_which_option_is_not_so_is_refused(seed_evidence):
    """"All of these … except:" asks for what the passages do not say; a quote can only show
    what they do say, so any option they mention would pass the check and be wrong."""
    from qa.answer.quotes import asks_for_an_exclusion

    assert asks_for_an_exclusion("He has starred in all of these movies except:")
    assert asks_for_an_exclusion("All these towns are near the border, but not?")
    assert not asks_for_an_exclusion("What did everyone except Kim say?")
    assert not asks_for_an_exclusion("In which town was the office?")
    ev = seed_evidence("All of these towns had an inter-Korean office except:")
    assert verify(parse_reply('{"answer": "Kaesong", "passage": 1}'), ev) is None
    ev = seed_evidence("Which town had the inter-Korean office?")
    assert verify(parse_reply('{"answer": "Kaesong", "passage": 1}'), ev) is not None


def test_a_sentence_about_a_rival_name_backs_no_answer(seed_evidence):
    """"North Korea" asked, "South Korea" said: the sentence answers another question (the seed
    paraphrases' "How much did North Korea spend…?", answered from what South Korea spent)."""
    from qa.answer.quotes import names_a_rival

    quote = "South Korea spent at least 9.78 billion won (US$8.6 million) in 2018"
    reply = parse_reply(_reply("9.78 billion won", 1, quote))
    assert verify(reply, seed_evidence("How much did North Korea spend on the building?")) is None
    assert verify(reply, seed_evidence("How much did South Korea spend on the building?"))

    assert names_a_rival("What did Joe Biden say?", "Hunter Biden said no.") == (
        "joe biden", "hunter biden")
    assert names_a_rival("Where will the Australian Open be played?",
                         "The French Open will be played in Paris.")
    # a name that is not what the question asks about is context, not its subject
    assert not names_a_rival(
        "How much did it cost to renovate the office that North Korea blew up?",
        "South Korea spent at least 9.78 billion won (US$8.6 million) in 2018.")
    # the same name, or the same person under a title, or both names: not rivals
    assert not names_a_rival("What did Joe Biden say?", "President Biden said no.")
    assert not names_a_rival("How much did North Korea spend?",
                             "North Korea and South Korea spent 9 billion won.")
    assert not names_a_rival("What did South Korea's president say?",
                             "South Korean President Moon Jae-in said so.")
    # a shorter name for the same thing, and a question word that starts a capitalised run
    assert not names_a_rival("Where will the Club World Cup be held?",
                             "The World Cup final will be held in New Jersey.")
    assert not names_a_rival("Which GOP leader did the House GOP elect?",
                             "The House GOP elected him.")


def test_a_place_may_be_quoted_by_the_name_of_its_people():
    """"Nepal" is in "Young Nepalis had been…": the people of a place name it (found on
    realtimeqa-2025, where no other sentence named the country)."""
    q = "Which country has been rocked by deadly protests led by young people?"
    assert answer_in_quote("Nepal", "Young Nepalis had been putting out posts.", q)
    assert answer_in_quote("Israel", "Israeli officials said so.", q)
    # a lower-case word, and a longer word that only starts the same way, do not count
    assert not answer_in_quote("Nepal", "young nepalis had been putting out posts.", q)
    assert not answer_in_quote("Nepal", "Nepalganj officials said so.", q)


def test_a_quote_from_the_only_article_retrieved_needs_a_lower_floor(monkeypatch):
    """Every passage from one article (a store of one article): the question is about that
    article's story, so a sentence that packs several facts and scores low against a question
    about one of them still backs it; with a second article among the passages, or with the
    rule off, the one floor for all applies. A sentence on another matter stays refused."""
    from qa.answer import grounding

    paragraphs = SEED.split("\n\n")
    one_article = [Passage(doc_id="d1", title="Liaison office", source="s1", published=None,
                           text=t, start=0, end=len(t), score=0.5, chunk_index=i,
                           chunk_id=f"c{i}") for i, t in enumerate(paragraphs)]
    question = "How many floors did the demolished building have?"
    reply = parse_reply('{"answer": "four", "passage": 3}')
    alone = build_evidence(question, one_article, EMBEDDER.encode)
    v = verify(reply, alone)
    assert v is not None and v.answer == "four" and v.passage_index == 2
    assert grounding.ARTICLE_FLOOR <= v.relevance < grounding.RELEVANCE_FLOOR
    assert grounding.only_article(alone) == "d1"

    mixed = build_evidence(question, one_article + [_passage(SPORTS, "Super Bowl", 2)],
                           EMBEDDER.encode)
    assert grounding.only_article(mixed) is None
    assert verify(reply, mixed) is None

    monkeypatch.setattr(grounding, "ARTICLE_FLOOR", None)
    assert verify(reply, alone) is None
    monkeypatch.undo()

    # on the one article, a question its sentences are not about is still refused
    off = build_evidence("Which football team won the cup final?", one_article,
                         EMBEDDER.encode)
    assert verify(parse_reply('{"answer": "Reuters", "passage": 1}'), off) is None

    # a question naming what the article never mentions is not about it, whatever words it
    # shares with a sentence ("won", "2018"): the one floor for all applies
    world_cup = "Who won the 2018 World Cup?"
    cup = build_evidence(world_cup, one_article, EMBEDDER.encode)
    assert names_not_in(world_cup, SEED) == ["world cup"]
    assert names_not_in("Whose office did North Korea blow up?", SEED) == []
    assert grounding.evidence_floor(cup, grounding.RELEVANCE_FLOOR) == grounding.RELEVANCE_FLOOR
    assert verify(parse_reply('{"answer": "South Korea", "passage": 3}'), cup) is None
    monkeypatch.setattr(grounding, "RELEVANCE_FLOOR", grounding.ARTICLE_FLOOR)
    assert verify(parse_reply('{"answer": "South Korea", "passage": 3}'), cup) is not None, \
        "the sentence clears the lower floor: without the name rule it would be shown"
