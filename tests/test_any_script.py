"""Articles in other languages and scripts: a plain fact question is answered with its quote.

Words are Unicode words with their accents (``qa.text.sentences``), and the checks that know
only English words (``qa.text.language``) are not made for a question in another language,
so the answer stands on the same two facts as an English one: the quote is in the article,
the answer is in the quote. The fake model gives the reply; the embedder is the real one.
"""

from __future__ import annotations

import json

import pytest
from answer_helpers import DenseRetriever, paragraphs

from qa.answer import chain
from qa.answer.quotes import answer_in_quote, fits_question, names_not_in
from qa.config import Settings
from qa.llm.fake import FakeChatModel
from qa.text.language import ENGLISH, language_of
from qa.text.sentences import split_sentences

SETTINGS = Settings().with_(llm="fake", top_k=4)
DAY = "2024-03-12"

GERMAN = (
    "Freiburg hat am Dienstag eine neue Straßenbahnlinie eröffnet. Über 3000 Menschen kamen "
    "zur Eröffnung in die Innenstadt. Oberbürgermeister Martin Horn sagte, der Bau habe "
    "45 Millionen Euro gekostet.\n\n"
    "Die Bahn fährt alle zehn Minuten vom Hauptbahnhof bis nach Littenweiler. „Wir sind "
    "stolz auf diese Linie“, sagte Horn."
)
RUSSIAN = (
    "Во вторник в Казани открылся новый мост через реку Казанку. Его длина составляет "
    "850 метров. Строительство обошлось городу в 4 миллиарда рублей, сообщил мэр Ильсур "
    "Метшин.\n\n"
    "Движение по мосту начнётся в субботу. «Мост свяжет два района города», сказал мэр."
)
CASES = [
    (GERMAN, "Wie heißt der Oberbürgermeister von Freiburg?", "Martin Horn",
     "Oberbürgermeister Martin Horn sagte, der Bau habe 45 Millionen Euro gekostet."),
    (GERMAN, "Wie viele Menschen kamen zur Eröffnung?", "Über 3000",
     "Über 3000 Menschen kamen zur Eröffnung in die Innenstadt."),
    (RUSSIAN, "Какова длина нового моста?", "850 метров",
     "Его длина составляет 850 метров."),
    (RUSSIAN, "Кто мэр Казани?", "Ильсур Метшин",
     "Строительство обошлось городу в 4 миллиарда рублей, сообщил мэр Ильсур Метшин."),
]


def _ask(body: str, question: str, answer: str, quote: str):
    passages = paragraphs(body, "doc", body.split(".")[0][:40], DAY)
    retrieve = DenseRetriever(passages)
    ranked = retrieve(question, SETTINGS.top_k)
    n = next(i + 1 for i, p in enumerate(ranked) if quote in p.text)
    reply = json.dumps({"answer": answer, "passage": n, "quote": quote}, ensure_ascii=False)
    llm = FakeChatModel(function=lambda messages: reply)
    return chain.ask(question, retrieve=retrieve, settings=SETTINGS, llm=llm, as_of=DAY)


@pytest.mark.parametrize(("body", "question", "answer", "quote"), CASES)
def test_a_fact_question_is_answered_with_its_quote(body, question, answer, quote):
    a = _ask(body, question, answer, quote)
    assert not a.refused, a.text
    assert answer in a.text  # widened to the whole name: "Oberbürgermeister Martin Horn"
    [c] = a.citations
    assert c.quote == quote and body[c.start:c.end] == quote
    assert c.sentence == quote  # the splitter cut the sentence where the article does


@pytest.mark.parametrize(("body", "question", "answer", "quote"), CASES[::2])
def test_an_answer_the_quote_does_not_hold_is_still_refused(body, question, answer, quote):
    wrong = {"Martin Horn": "Martin Hörn", "850 метров": "580 метров"}[answer]
    assert _ask(body, question, wrong, quote).refused


def test_a_check_that_knows_only_english_is_not_made_for_another_language():
    german = "Wie viele Menschen kamen zur Eröffnung in Freiburg Im Breisgau?"
    assert language_of(german) is None and language_of("Какова длина моста?") is None
    assert language_of("How many people came to the opening?") is ENGLISH
    assert language_of("Kaesong?") is ENGLISH  # too short to tell: as before
    # "How many" wants a number; its German words are not in the table: not checked
    assert fits_question("Martin Horn", german)
    assert not fits_question("Martin Horn", "How many people came to the opening?")
    # German capitalises nouns, so its capitals are no names to look for
    assert names_not_in(german, GERMAN) == []
    assert names_not_in("Who opened the Freiburg Im Breisgau line?", GERMAN) == [
        "freiburg im breisgau"]


def test_accented_and_cyrillic_words_are_whole_words():
    q = "Wer ist der Bürgermeister?"
    assert answer_in_quote("Müller", "Bürgermeister Müller sagte nein.", q)
    assert not answer_in_quote("Mäller", "Bürgermeister Müller sagte nein.", q)
    assert not answer_in_quote("Muller", "Bürgermeister Müller sagte nein.", q)
    assert answer_in_quote("Метшин", "сообщил мэр Ильсур Метшин.", "Кто мэр?")
    assert not answer_in_quote("Минниханов", "сообщил мэр Ильсур Метшин.", "Кто мэр?")
    assert [s.text for s in split_sentences(RUSSIAN)][-1] == (
        "«Мост свяжет два района города», сказал мэр.")
