"""What kind of answer a question wants: one short fact, or several cited sentences.

A news quiz asks for a name, a number or a date; a reader of an article also asks "What is
this about?", "Why did it happen?", "Compare the two stories". The first kind goes to the
short-fact path (one answer, one checked quote: ``qa.answer.chain``); the second to the open
path (``qa.answer.open_answer``: several sentences, each checked against its passages).

Routed by wording, not by a model call: the words that ask for an explanation, a summary or
a comparison are few and plain, and a wrong route costs little either way (an open answer to
a fact question still starts with the fact, and both paths refuse what the articles do not
say). Patterns only for English; a question in another language takes the fact path.
"""

from __future__ import annotations

import re
from typing import Literal

from qa.text.sentences import STOPWORDS, content_words

OpenKind = Literal[
    "about", "summary", "main_points", "why", "how", "explain", "describe", "background",
    "next", "who", "list", "timeline", "compare", "changed",
]

# Order matters: the first pattern that matches names the kind.
_PATTERNS: tuple[tuple[OpenKind, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.I)) for kind, pattern in (
        ("compare", r"^\s*(please\s+)?(compare|contrast)\b|\b(compare|contrast) (the|these|those|"
                    r"both|them|it)\b|\bdifferences?\s+between\b|\bhow do(es)? .* differ\b|"
                    r"\bin common\b|\bboth (articles|stories|reports|events)\b|"
                    r"\bthe two (articles|stories|reports|events)\b|\bwhich of the (two|stories|"
                    r"articles|events)\b"),
        ("changed", r"\bwhat (has |had )?changed\b|\bhow (has|have|had) .* changed\b|"
                    r"\bhow (did|does|do) .* change\s*(\?|$|over\b|since\b|between\b|"
                    r"from\b|after\b|during\b|across\b|in the (reports|articles)\b)"),
        ("timeline", r"\b(timeline|chronolog|sequence of events|in what order|order of events)"),
        ("summary", r"\b(summari[sz]e|summary|sum up|sum it up|tl;?dr|recap|overview|gist|"
                    r"in a nutshell|brief me)\b"),
        ("main_points", r"\b(main|key|important) (points?|facts?|takeaways?|ideas?|"
                        r"findings?|events?)\b|\btakeaways?\b|\bhighlights\b"),
        ("about", r"\bwhat(?:'s| is| was)\s+(this|the|that|it)\s*(article|story|piece|text|"
                  r"news|report|document|item)?\s*about\b|\bwhat(?:'s| is| was)\b.*\b(article|"
                  r"story|piece|report)\b.*\babout\s*\??$|\bwhat happened in (this|the) "
                  r"(article|story|report)\b|\bwhat (does|do) (the|this) "
                  r"(article|story|piece|report|articles|stories)s? (say|tell|cover|report)"),
        ("next", r"\b(what (happens|will happen|is going to happen|comes|could happen|"
                 r"might happen) next|what(?:'s| is) next|next steps?|what happens now|"
                 r"(do|happen|happens) next|going forward)\b|\bwhat does .* mean for\b|"
                 r"^\s*what happened (after|since|next)\b"),
        ("background", r"\b(background|context|backstory)\b"),
        ("explain", r"\b(explain|elaborate|tell me (more )?about|what do we know about|"
                    r"walk me through)\b|\bwhat does .* (mean|refer to)\b|"
                    r"^\s*what (is|was|are|were) (the|this|that|these|those)"
                    r"(\s+[\w'’-]+){1,3} for\s*\??\s*$"),
        ("describe", r"^\s*(please\s+)?describe\b|\b(can|could) you describe\b|"
                     r"\bwhat (was|is) it like\b"),
        ("list", r"^\s*(list|name|enumerate)\b.*\b(all|the|every)\b|\bwhat are the "
                 r"(reasons|causes|consequences|effects|steps|measures|reactions|responses)\b"),
        ("why", r"^\s*(why|for what reason|what (caused|led to|prompted|triggered|"
                r"motivated))\b|\b(the |what )?reasons? (for|why|behind)\b"),
        ("how", r"^\s*how (did|does|do|has|have|had|is|are|was|were|will|would|could|can|"
                r"might)\b(?!.*\b(many|much|old|long|far|often|big|large|tall|high)\b)"),
    )
)

_HOW_QUANTITY = re.compile(r"^\s*how (many|much|old|long|far|often|big|large|tall|high|soon)\b",
                           re.I)

_PARTICLE = r"(?:de|des|du|da|di|del|della|van|von|der|den|ter|la|le|al|el|bin|ibn|dos|do)"
"""Lower-case words inside a person's name: "Laurence des Cars", "Ursula von der Leyen"."""

_WHO_IS = re.compile(r"^\s*(?i:who\s+(is|was|are|were))\s+"
                     r"(?P<name>[A-Z][\w.'’-]*(?:\s+(?:" + _PARTICLE + r"\s+){0,2}"
                     r"[A-Z][\w.'’-]*){0,3})"
                     r"\s*(?:[,?]|\bin (the|this)\b|$)")
""""Who is Kim Yo Jong?": a name and nothing else asks who that person is, not for a name."""

_WHOLE_ARTICLE = re.compile(
    r"\b(this|the|that)\s+(article|story|piece|text|report|document|news item)\b|"
    r"^\s*(summari[sz]e|sum up|recap|tl;?dr)\s*(it|this)?\s*[.!?]?\s*$|"
    r"\bwhat(?:'s| is)\s+(this|it)\s+about\b",
    re.I,
)

SCAFFOLDING = frozenset("""
article articles story stories piece text report reports document documents news item summary
summarize summarise sum recap overview gist nutshell brief main key important point points
fact facts takeaway takeaways idea ideas finding findings highlight highlights explain
elaborate tell know describe description background context history backstory happen happens
happened happening next step steps come comes compare comparison contrast difference
differences differ similarity similarities common versus two both timeline chronology
sequence event events order list name enumerate reason reasons cause causes caused led lead
prompt prompted trigger triggered motivate motivated consequence consequences effect effects
say says tell tells cover covers mention mentions bullet bullets sentence sentences short
paragraph three four five give please walk first second changed change like going could might
me us here there even still really mentioned named phrase word words term thing things way
kind sort anything something everything tl dr between across since versus vs
""".split())
"""Words that say what kind of answer is wanted, not what it is about: "Summarize the
article in three bullet points" names no topic at all."""


def open_kind(question: str) -> OpenKind | None:
    """The kind of open answer the question wants, or None for a short fact."""
    q = " ".join(question.split())
    if _HOW_QUANTITY.search(q):
        return None
    for kind, pattern in _PATTERNS:
        if pattern.search(q):
            return kind
    if _WHO_IS.match(q):
        return "who"
    return None


def about_whole_article(question: str) -> bool:
    """Whether the question is about an article as a whole ("What is this article about?",
    "Summarize the story"), which is answered from that whole document, not from the passages
    most similar to the question (similar to no sentence in particular)."""
    kind = open_kind(question)
    if kind in ("about", "summary", "main_points"):
        return True
    return kind is not None and bool(_WHOLE_ARTICLE.search(question)) and not topic_words(
        question)


def wants_bullets(question: str) -> bool:
    return bool(re.search(r"\b(bullet|bullets|bulleted|points?|list)\b", question, re.I))


def topic_words(question: str) -> list[str]:
    """The question's words that say what it is about (content words minus the words that
    ask for a kind of answer): none for "Summarize the article", ["kim", "yo", "jong"] for
    "Who is Kim Yo Jong?". A month or weekday dates the question ("the Aug. 11 report"):
    the passages carry it as their publication date, not as a word of their text."""
    return [w for w in content_words(question) if w not in SCAFFOLDING and w not in STOPWORDS
            and not w.isdigit() and w not in CALENDAR_WORDS]


CALENDAR_WORDS = frozenset("""
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday
saturday sunday
""".split())

_NAME = re.compile(r"(?<![\w.])[A-Z][\w'’.-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'’.-]*)*")


def topic_names(question: str) -> list[str]:
    """Capitalised names in the question ("Kim Yo Jong", "Olympics", "North Korea"), without
    its first word when that is a question or command word."""
    names = []
    for m in _NAME.finditer(question):
        words = [w.strip(".,'’") for w in m.group(0).split()]
        if m.start() == len(question) - len(question.lstrip()):
            while words and (words[0].lower() in STOPWORDS or words[0].lower() in SCAFFOLDING
                             or words[0].lower() in ("who", "what", "why", "how", "when")):
                words = words[1:]
        # a month or weekday dates the question ("the December Louvre article"): the
        # passages carry it as their publication date, not as a name in their text
        words = [w for w in words if w.lower() not in SCAFFOLDING
                 and w.lower().rstrip(".") not in CALENDAR_WORDS]
        name = " ".join(w for w in words if w)
        if name and name.lower() not in STOPWORDS:
            names.append(name)
    return names
