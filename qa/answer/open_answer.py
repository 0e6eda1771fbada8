"""Open answers: summaries, explanations, comparisons, each sentence cited and checked.

The model writes one to about six sentences, each ending with the [n] of its passage
(``prompts/open_*.txt``). Each sentence is checked as soon as it is complete
(``qa.answer.sentence_check``) and shown only when its passages hold its facts; a wrong [n]
is moved to the passage that holds them; the rest are removed and counted. The context is a
whole article or passages from several (``qa.answer.scope``).

Why the prompt reads passages first and the question last: llama.cpp keeps the cached
prefix of the last prompt, so a follow-up about the same article prefills only the new
question (no rewrite call either: the article is already chosen, and the earlier question is
given beside the new one).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from qa.answer.citations import render
from qa.answer.evidence import Evidence
from qa.answer.grounding import DECLINE, RELEVANCE_FLOOR
from qa.answer.intent import (
    OpenKind,
    about_whole_article,
    topic_names,
    topic_words,
    wants_bullets,
)
from qa.answer.prompts import load_prompt
from qa.answer.quotes import is_assertion
from qa.answer.scope import (
    CROSS_ARTICLE_KINDS,
    DocumentPassages,
    Retrieve,
    Scope,
    across_articles,
    answer_scores,
    articles_named,
    centrality,
    dates_named,
    main_article,
    whole_article,
)
from qa.answer.sentence_check import (
    NOTHING_CLAIMED,
    _Vocabulary,
    check_sentence,
    is_heading,
    passage_words,
    split_answer,
)
from qa.index.embedder import Encoder
from qa.llm.backends import open_options
from qa.text.sentences import content_words
from qa.types import (
    Answer,
    AnswerSentence,
    Citation,
    FinalEvent,
    Passage,
    SentenceEvent,
    StreamEvent,
    TokenEvent,
)

OPEN_MAX_TOKENS = 280
"""Longest open reply: six sentences of about 35 tokens, and a little slack."""

MAX_SENTENCES = 8
"""Sentences read from one reply; a small model that repeats itself is cut off here."""

COMPLEMENT = 3
"""Sentences of the context added verbatim after the model's checked ones: the most central
(for a question about the whole article) or the most about the question, that no shown
sentence cites already. Why: the 1.5B model's own sentences cover about 40 % of the key
points of eval/open-questions (seed and news halves), the context holds 88 %; replayed on
the model's earlier answers of both tuning halves, adding 2 / 3 / 4 sentences covered 65 / 71
/ 74 % (seed) and 48 / 52 / 57 % (news). Three keeps an answer near six sentences. A quoted
sentence needs no check: it is the passage's own text, cited at its exact offsets."""

MAX_SHOWN = 7
"""At most this many sentences are shown (the model's, then the added ones)."""

FILL_TO = 6
"""When the model wrote fewer checked sentences than ``FILL_TO - COMPLEMENT``, the added
ones fill the answer up to this many (the issue's "one to about six sentences"). Why: the
1.5B model wrote two sentences or fewer on half of the fresh half's questions, and most key
points it missed were in the context it read."""

LEDE = 3
"""For a question about the whole article, its first ``LEDE`` statements in reading order
come first (a news article's opening paragraph is its summary), then its most central ones."""

MODEL_SHOWN = MAX_SHOWN - COMPLEMENT
"""The model is read until this many of its sentences have passed the check: the rest of
the answer is the context's own best sentences (they covered more key points than the
model's fifth to eighth sentences on the seed half), and the answer is done sooner."""

COMPLEMENT_FLOOR = 0.15
"""An added sentence must be at least this much about the question (the evidence score) when
the question has a topic: a sentence on another matter says nothing to it (0.15 and 0.25
covered the same key points on the news half; 0.15 one more on the seed half)."""

FALLBACK_FLOOR = RELEVANCE_FLOOR
"""When the check removed every sentence the model wrote (or it wrote none that claims
anything), the answer is the context's sentences most about the question, each at least this
relevant: the short-fact path's floor for a quote. The small model at times garbles a list
("- - [1]") of a context that holds the answer."""

ANSWER_FIRST: tuple[str, ...] = ("why", "how", "explain")
"""Kinds of open question whose reply's first sentence is its answer ("Why is the library
closing?" "It is closing because ..."). When the check removes that sentence the question is
refused: the articles do not say it, and the sentences the model or the context would add
after it are about the topic, not the answer (a library closing "answered" with a list of
library addresses). Replayed on the stored replies (``bench/replay_open.py``), it changes no
answer of the seed, news and fresh halves of eval/open-questions; on the quiz tuning sets it
refuses one wrong open answer of realtimeqa-2024 ("How has Caleb Fauria managed to excel
...?") and no right one."""

_ONE_SENTENCE = re.compile(r"\b(one|single|1) sentence\b|\bin (a|one) (word|line)\b", re.I)


_SEVERAL = re.compile(r"\b(articles|stories|reports|coverage|pieces)\b|"
                      r"(?<!this )(?<!that )\bnews\b(?! (item|article|story|report)\b)", re.I)
"""A question about several articles ("Summarize the articles about X", "the news about X")
reads passages from each when several are retrieved, not one whole article, even when most
passages are one article's."""

TOPIC_SHARE = 1 / 3
MIN_TOPIC_WORDS = 3
"""An open question with at least ``MIN_TOPIC_WORDS`` words about its topic, fewer than
``TOPIC_SHARE`` of which occur in the context, is about something the articles do not cover
("Describe the casualties: how many people were killed or injured in the explosion?" shares
only "explosion" with the shipped article) and is refused before the model writes. Chosen on
the seed half of eval/open-questions (every answerable question there keeps at least 0.4 of
its topic words or has fewer than three; the unanswerable ones keep at most 0.25)."""


def open_messages(scope: Scope, question: str, earlier: str = "",
                  bullets: bool = False) -> list[BaseMessage]:
    """The prompt: instructions, the passages, then (last) the question: a prefix shared
    by every question about the same context."""
    user = load_prompt("open_user").format(
        passages="\n\n".join(text for _, text in scope.blocks),
        earlier=load_prompt("open_earlier").format(earlier=earlier) + "\n" if earlier else "",
        question=question,
        style=load_prompt("open_style_bullets" if bullets else "open_style_sentences"),
    )
    return [SystemMessage(load_prompt("open_system")), HumanMessage(user)]


def warm_up(llm: BaseChatModel, doc_id: str, document_passages: DocumentPassages,
            encode: Encoder) -> None:
    """Have the model read an article's open-answer prompt up to its question, so that a
    first question about it pays only for the question (llama.cpp keeps the prefix)."""
    scope = whole_article("", doc_id, document_passages, encode)
    llm.invoke(open_messages(scope, ""), max_tokens=1, **open_options(llm))


def choose_scope(question: str, kind: OpenKind, *, query: str, retrieve: Retrieve, k: int,
                 encode: Encoder, document_passages: DocumentPassages | None,
                 documents: Callable[[], Sequence[str]] | None,
                 about: str | None) -> Scope | None:
    """The context of an open answer: the article the reader picked or the conversation is
    about (``about``), the only article in the store for a question about "the article", the
    article the retrieved passages come from, or passages from several articles. None when
    nothing is retrieved."""
    if document_passages is not None:
        doc = about if kind not in CROSS_ARTICLE_KINDS else None
        if doc is None and documents is not None and (
                about_whole_article(question) or kind in CROSS_ARTICLE_KINDS):
            ids = list(documents())  # "the article", or a timeline of a store of one
            doc = ids[0] if len(ids) == 1 else None
        if doc is not None:
            return whole_article(question, doc, document_passages, encode)
    passages = list(retrieve(query, k))
    if not passages:
        return None
    dates = dates_named(question)
    names = topic_names(question) if kind in CROSS_ARTICLE_KINDS else []
    if dates or (kind in CROSS_ARTICLE_KINDS and (len(names) > 1 or len(
            {p.doc_id for p in passages}) < 2)):
        wider = list(retrieve(query, 3 * k))
        passages += [p for p in wider if p.chunk_id not in {q.chunk_id for q in passages}]
    named = articles_named(passages, dates, names)
    if named and kind not in CROSS_ARTICLE_KINDS:
        if len(named) == 1 and document_passages is not None:
            return whole_article(question, named[0], document_passages, encode)
        return across_articles(question, [p for p in passages if p.doc_id in named], encode)
    if kind in CROSS_ARTICLE_KINDS:
        # the articles the question names (by date, by the names compared): those alone when
        # it names two or more by date or compares two names, else first; a timeline or a
        # change named by its topics keeps the other articles of the story after them
        if len(named) > 1 and (dates or kind == "compare"):
            passages = [p for p in passages if p.doc_id in named]
        passages.sort(key=lambda p: p.doc_id not in named)
        return across_articles(question, passages, encode)
    passages = passages[:k]
    several = bool(_SEVERAL.search(question)) and len({p.doc_id for p in passages}) > 1
    main = None if several else main_article(passages)
    if main is None and about_whole_article(question) and not several:
        main = passages[0].doc_id  # "Summarize the article about X": the article X is in
    if main is not None and document_passages is not None:
        return whole_article(question, main, document_passages, encode)
    return across_articles(question, passages, encode)


def not_covered(question: str, scope: Scope) -> tuple[list[str], bool]:
    """The names the question asks about that the context never mentions, and whether it
    is about nothing there at all (then it is refused before the model runs)."""
    vocab = _Vocabulary(" ".join(passage_words(p) for p in scope.passages))
    names = topic_names(question)
    # each word of a name ("U.S." is "U" and "S": too short to look for)
    missing = [n for n in names if not all(vocab.has_name(w.lower())
                                           for w in re.split(r"[\s.-]+", n) if len(w) > 1)]
    words = topic_words(question)
    if names and len(missing) == len(names):
        return missing, True
    found = sum(1 for w in words if vocab.has_term(w) or vocab.has_name(w))
    if words and not found:
        return missing, scope.whole_article is None or bool(names)
    if len(words) >= MIN_TOPIC_WORDS and found < TOPIC_SHARE * len(words):
        return missing, True
    return missing, False


def _citations(evidence: Evidence, sentence_ids: Sequence[int]) -> tuple[Citation, ...]:
    out = []
    for si in sentence_ids:
        s = evidence.sentences[si]
        p = evidence.passages[s.passage_index]
        out.append(Citation(n=s.passage_index + 1, passage=p, start=s.start, end=s.end,
                            quote=s.text, support=round(float(evidence.question_scores[si]), 4),
                            sentence=s.text))
    return tuple(out)


def _answer(question: str, scope: Scope, sentences: Sequence[AnswerSentence],
            bullets: bool, missing: Sequence[str], raw: str, timings: dict) -> Answer:
    shown = [s for s in sentences if s.supported]
    joiner = "\n" if bullets else " "
    text = joiner.join(s.text for s in shown)
    if missing and shown:
        text += ("\n" if bullets else " ") + load_prompt("open_missing").format(
            names=" or ".join(missing))
    return Answer(
        text=text if shown else load_prompt("refusal"),
        sentences=tuple(sentences),
        refused=not shown,
        confidence=round(len(shown) / len(sentences), 3) if sentences else 0.0,
        question=question,
        standalone_question=question,
        passages=scope.passages,
        kind="generated" if shown else "refusal",
        raw=raw,
        timings=dict(timings),
        shape="open",
        missing=tuple(missing) if shown else (),
    )


NOVELTY = 0.6
"""A sentence is not added when this share of its content words is already in the answer: a
paraphrase of it is shown (the model's sentence citing the lede may still lose its names:
"North Korea's actions against the office" for the lede's "blew up ... in Kaesong ... after
... leaflets", so a cited sentence is not skipped for being cited)."""


SAME_SENTENCE = 0.8
"""Two sentences this similar (cosine) say the same thing: the news repeats its main fact in
a headline, a lede and a link line ("Microsoft announced 10,000 job cuts..."), and the small
model repeats a fact once per person it names. The second is neither added nor shown, so it
takes no place among the model's ``MODEL_SHOWN``."""

_LINK_LINE = re.compile(r"[A-Za-z]:[A-Z0-9]")
"""A related-story link glued to its label ("Airline waivers:What carriers are offering",
"FAA computer outage:10,000+ US flights delayed")."""

_BOILERPLATE = re.compile(
    r"^\W*(editor'?s note|for the latest|sign up|subscribe|click here|read more|related:|"
    r"watch:|contributing:|this story (was|has been) updated|"
    r"here'?s (what|how|why|everything) (to|you|we))"
    r"|^(?-i:[A-Z][\w'-]+(?: [A-Z][\w.'-]*){0,2}) (covers|reports on|writes about) "
    r"|\b(email|contact) (him|her|them|us) at\b"
    r"|@\w+\.\w+|\bfollow (him|her|them|us) on\b", re.I)
"""The page's own furniture, not the story: an editor's note, a byline ("Greg Hilburn covers
Louisiana politics for the USA TODAY Network"), a newsletter or contact line, a "Here's what
to know" line."""


def _statement(text: str) -> bool:
    """A sentence worth adding to an answer: a full statement, not a question, headline,
    link line or fragment."""
    t = text.strip()
    return (len(t) >= 30 and is_assertion(t) and not _LINK_LINE.search(t)
            and not _BOILERPLATE.search(t) and t[-1] in ".!\"'”’)")


def _new_words(text: str, have: set[str]) -> float:
    words = set(content_words(text))
    return len(words - have) / len(words) if words else 0.0


def complement(question: str, scope: Scope, sentences: Sequence[AnswerSentence],
               bullets: bool) -> list[AnswerSentence]:
    """The context's best sentences that the shown ones do not already say, verbatim and
    cited (``COMPLEMENT``, or up to ``FILL_TO`` shown when the model wrote little): for the
    whole article its opening statements in reading order (``LEDE``), then its most central
    sentences; else those most about the question that share a word with its topic (or pass
    the short-fact floor). When the question asks for one sentence, none (or the lede's, when
    the check removed the model's)."""
    shown = [s for s in sentences if s.supported]
    room = min(max(COMPLEMENT, FILL_TO - len(shown)), MAX_SHOWN - len(shown))
    if _ONE_SENTENCE.search(question):
        room = 0 if shown else 1
    if room <= 0:
        return []
    evidence = scope.evidence
    have = set(content_words(" ".join(s.text for s in shown)))
    whole = about_whole_article(question)
    if whole:
        central = centrality(evidence.vectors)
        # a news article's opening paragraph is its summary: its first statements in
        # reading order, then the centre
        reading = sorted(range(len(evidence.sentences)), key=lambda i: (
            evidence.passages[evidence.sentences[i].passage_index].start,
            evidence.sentences[i].start))
        lede = [i for i in reading if _statement(evidence.sentences[i].text)][:LEDE]
        order = lede + sorted((i for i in range(len(evidence.sentences)) if i not in lede),
                              key=lambda i: -float(central[i]))
    else:
        scores = answer_scores(evidence)
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
    topic = topic_words(question)
    topic_vocab = _Vocabulary(" ".join(topic))
    floor = COMPLEMENT_FLOOR if shown else FALLBACK_FLOOR
    out: list[AnswerSentence] = []
    added: list[int] = []
    for i in order:
        if len(out) >= room:
            break
        ps = evidence.sentences[i]
        score = float(evidence.question_scores[i] if whole else scores[i])
        if not _statement(ps.text) or _new_words(ps.text, have) < 1 - NOVELTY or any(
                float(evidence.vectors[i] @ evidence.vectors[j]) > SAME_SENTENCE
                for j in added):
            continue
        if topic and not whole:
            if score < floor:
                break
            if score < RELEVANCE_FLOOR and not any(
                    topic_vocab.has_term(w) for w in content_words(ps.text)):
                continue  # on another matter than the question's topic
        text = render(re.sub(r"\s+", " ", ps.text).rstrip(), [ps.passage_index + 1])
        out.append(AnswerSentence(text=("- " if bullets else "") + text,
                                  citations=_citations(evidence, [i]), supported=True,
                                  quoted=True))
        have |= set(content_words(ps.text))
        added.append(i)
    return out


def _finished(sentence: str) -> bool:
    s = sentence.rstrip()
    return bool(re.search(r"(\[\d+\]|\(\d{1,2}\)|[.!?][\"'”’)]*)$", s))


def refusal(question: str, passages: Sequence[Passage], timings: dict,
            raw: str = "") -> Answer:
    return Answer(text=load_prompt("refusal"), sentences=(), refused=True, confidence=0.0,
                  question=question, standalone_question=question, passages=tuple(passages),
                  kind="refusal", raw=raw, timings=dict(timings), shape="open")


def write_checked(question: str, scope: Scope, messages: list[BaseMessage],
                  llm: BaseChatModel, encode: Encoder, *, bullets: bool, missing: Sequence[str],
                  t0: float, timings: dict, answer_first: bool = False
                  ) -> Iterator[StreamEvent]:
    """Stream the model's reply, check each sentence as it completes, and yield the answer
    so far after each one (``SentenceEvent``), then the final ``Answer``. ``answer_first``:
    the reply's first sentence is its answer (``ANSWER_FIRST``), so when the check removes
    it the question is refused."""
    evidence = scope.evidence
    pieces: list[str] = []
    sentences: list[AnswerSentence] = []
    seen: set[str] = set()
    shown_vectors: list[np.ndarray] = []  # of the model's sentences that passed
    done = 0

    def check(batch: list[str]) -> list[AnswerSentence]:
        out = []
        batch = [s for s in batch if s.strip() and not is_heading(s)]
        if not batch:
            return out
        vectors = encode(batch)
        for raw_sentence, vec in zip(batch, vectors, strict=True):
            verdict = check_sentence(raw_sentence, evidence, np.asarray(vec), question)
            key = " ".join(verdict.text.lower().split())
            if key in seen or verdict.reason == NOTHING_CLAIMED:
                continue  # a small model repeating itself, or a fragment that claims nothing
            seen.add(key)
            bullet = "- " if bullets or raw_sentence.lstrip()[:2] in ("- ", "* ", "• ") else ""
            unit = np.asarray(vec) / max(float(np.linalg.norm(vec)), 1e-9)
            if verdict.supported and any(float(unit @ v) > SAME_SENTENCE
                                         for v in shown_vectors):
                continue  # the same fact again in other words: it would take a reader's turn
            if verdict.supported:
                shown_vectors.append(unit)
                cites = _citations(evidence, verdict.sentences)
                numbers = [pi + 1 for pi in verdict.passages]
                out.append(AnswerSentence(text=bullet + render(verdict.text, numbers),
                                          citations=cites, supported=True,
                                          corrected=verdict.corrected))
            else:
                out.append(AnswerSentence(text=bullet + verdict.text, supported=False,
                                          reason=verdict.reason))
        return out

    def answer_removed(new: list[AnswerSentence]) -> bool:
        """The check removed the reply's first claim, and that claim is its answer."""
        return answer_first and bool(new) and not sentences and not new[0].supported

    declined = stopped = unanswered = False
    for chunk in llm.stream(messages, max_tokens=OPEN_MAX_TOKENS, **open_options(llm)):
        text = chunk.text
        if not text:
            continue
        pieces.append(text)
        timings.setdefault("first_token", time.perf_counter() - t0)
        so_far = "".join(pieces)
        if so_far.lstrip()[:3].upper() == DECLINE[:3]:
            declined = True
            break
        complete, tail = split_answer(so_far, final=False)
        if len(complete) > done:
            new = check(complete[done:])
            done = len(complete)
            if answer_removed(new):
                sentences += new[:1]
                unanswered = declined = True  # the rest would be beside the question
                break
            if new:
                sentences += new
                if any(s.supported for s in new):
                    timings.setdefault("first_sentence", time.perf_counter() - t0)
                yield SentenceEvent(_answer(question, scope, sentences, bullets, (), "",
                                            timings))
            if done >= MAX_SENTENCES or sum(s.supported for s in sentences) >= MODEL_SHOWN:
                stopped = True
                break
        yield TokenEvent(text)
    raw = "".join(pieces)
    if not declined and not stopped:
        complete, _ = split_answer(raw, final=True)
        if complete[done:] and not _finished(complete[-1]):
            complete.pop()  # cut off by the length limit: half a sentence is not a claim
        new = check(complete[done:])
        if answer_removed(new):
            sentences += new[:1]
            unanswered = declined = True
        elif new:
            sentences += new
            if any(s.supported for s in new):
                timings.setdefault("first_sentence", time.perf_counter() - t0)
    if not declined and (any(s.supported for s in sentences) or raw.strip() or (
            scope.whole_article is not None and about_whole_article(question)
            and not topic_words(question))):
        # a question whose every written sentence was removed still gets the context's own
        # sentences: the article's most central ones, or those most about the question
        # (``FALLBACK_FLOOR``); the model's "NOT IN ARTICLES" is respected
        added = complement(question, scope, sentences, bullets)
        if added:
            sentences += added
            yield SentenceEvent(_answer(question, scope, sentences, bullets, (), "", timings))
    timings["total"] = time.perf_counter() - t0
    answer = _answer(question, scope, sentences, bullets, missing, raw, timings)
    if answer.refused:
        answer = replace(answer, passages=scope.passages)
    if unanswered:
        answer = replace(answer, refusal_reason="answer_first: the reply's answer sentence "
                         f"was removed ({sentences[0].reason})")
    yield FinalEvent(answer)


def stream_open(
    question: str,
    kind: OpenKind,
    *,
    earlier: str,
    retrieve: Retrieve,
    k: int,
    llm: BaseChatModel,
    encode: Encoder,
    document_passages: DocumentPassages | None = None,
    documents: Callable[[], Sequence[str]] | None = None,
    about: str | None = None,
    t0: float | None = None,
) -> Iterator[StreamEvent]:
    """Answer an open question (``qa.answer.intent.open_kind``): scope, a refusal when the
    context is about something else, then the checked sentences as they are written.
    ``earlier``: the conversation's previous question when this one refers back to it;
    ``about``: the article the reader picked or the conversation is about."""
    t0 = time.perf_counter() if t0 is None else t0
    timings: dict[str, float] = {}
    query = f"{earlier} {question}".strip() if earlier else question
    scope = choose_scope(question, kind, query=query, retrieve=retrieve, k=k, encode=encode,
                         document_passages=document_passages, documents=documents,
                         about=about)
    timings["retrieve"] = time.perf_counter() - t0
    if scope is None or not scope.blocks:
        timings["total"] = timings["retrieve"]
        yield FinalEvent(refusal(question, scope.passages if scope else (), timings))
        return
    missing, unrelated = not_covered(question if not earlier else query, scope)
    # a question with a topic that no retrieved sentence is related to at all is about
    # something else; "Compare the two events" has no topic, and is similar to nothing
    if unrelated or (scope.whole_article is None and topic_words(question)
                     and scope.evidence.nothing_related):
        timings["total"] = time.perf_counter() - t0
        yield FinalEvent(refusal(question, scope.passages, timings))
        return
    bullets = wants_bullets(question)
    messages = open_messages(scope, question, earlier, bullets)
    yield from write_checked(question, scope, messages, llm, encode, bullets=bullets,
                             missing=missing, t0=t0, timings=timings,
                             answer_first=kind in ANSWER_FIRST)
