"""The check behind every sentence of an open answer: its facts are in the passage it cites.

A summary paraphrases, so its sentences cannot be required to be verbatim (the short-fact
path's quote check, ``qa.answer.quotes``). What a reader is misled by is a fact the article
does not hold: a name, a number, a date, a key term. So a sentence is shown only when, in
the passage(s) it cites,
  1. every name it uses occurs (a people's name counts for its place: "North Korean" for
     "North Korea");
  2. every number it states occurs (number words count as digits, a percentage must be a
     percentage there);
  3. at least ``TERM_SHARE`` of its other content words occur (a word counts when it shares
     its stem with a passage word: "explosion" and "exploded").
A sentence whose [n] is wrong but whose facts are all in another passage is moved to it; one
that no passage supports is not shown, and the answer says so. Each shown sentence's
citations are the passage sentences that hold its facts (exact offsets, so a click
highlights them).

What it cannot catch: a sentence that rearranges true facts into a false claim ("South Korea
blew up the office": both names and the verb are in the passage). A per-sentence entailment
model would; none ships its weights on PyPI (docs/answers.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer.citations import parse_markers
from qa.answer.evidence import Evidence
from qa.answer.quotes import _NUMBER_WORDS, _PERCENT
from qa.text.dates import parse_date
from qa.text.sentences import STOPWORDS, content_words
from qa.types import Passage

TERM_SHARE = 0.5
"""Share of a sentence's key terms (content words that are not names or numbers) that must
occur in the passages it cites. Half: a summary rewords the article ("destroyed" for "blew
up"), but a sentence most of whose words the passage lacks says something the passage does
not."""

NOTHING_CLAIMED = "states nothing the passages could back"

MAX_SUPPORT_SENTENCES = 3
"""At most this many passage sentences are cited for one answer sentence."""

GENERIC = frozenset("""
article articles story stories report reports reported reporting piece text news according
mention mentions mentioned discuss discusses discussed describe describes described explain
explains explained detail details detailed highlight highlights highlighted summary overall
also however additionally furthermore moreover including include includes included well
various several many number part main key point points important notably specifically
particular particularly situation event events issue issues regarding concerning amid
""".split())
"""Words a summary adds about the article itself ("The article reports that…"); they claim
nothing about the news, so a sentence is not refused for them."""

_SENTENCE_START = frozenset("""
the a an this that these those it its in on at after before during while when as since
according however but and also then there here both some many most one two three four five
following despite although though meanwhile earlier later today yesterday
""".split())


@dataclass(frozen=True)
class Facts:
    """What one answer sentence claims, in the forms the passages are searched for."""

    names: tuple[str, ...]
    """Capitalised words, lower-cased ("kaesong", "kim")."""
    numbers: tuple[str, ...]
    """Numbers as digits ("4" for "four", "9.78")."""
    percents: tuple[str, ...]
    terms: tuple[str, ...]
    """Other content words."""
    phrases: tuple[str, ...] = ()
    """Names of several words as written ("south korean kcna"): ``name_phrases``."""

    @property
    def empty(self) -> bool:
        return not (self.names or self.numbers or self.terms)


def _number(word: str) -> str | None:
    w = word.lower().replace(",", "")
    if w in _NUMBER_WORDS:
        return _NUMBER_WORDS[w]
    return w if re.fullmatch(r"\d+(?:\.\d+)?(?:st|nd|rd|th)?", w) else None


_ORDINAL = frozenset({"first", "second", "third", "fourth", "fifth", "1st", "2nd", "3rd",
                      "4th", "5th"})
_WHICH_ARTICLE = frozenset({"report", "reports", "article", "articles", "story", "stories",
                            "piece", "passage", "update", "one"})
"""An answer across articles names them by their order: "the second report (Feb. 13)
says…". That ordinal counts the articles, it is no fact of the news to look up."""


def facts_of(claim: str) -> Facts:
    """The names, numbers and key terms of a sentence (markers and bullets already gone)."""
    text = claim.replace("’", "'")
    # "12,000" is one number: a comma before three digits stays inside the token
    tokens = re.findall(r"[^\W_](?:[\w'.-]|,(?=\d{3}(?!\d)))*", text)
    names: list[str] = []
    numbers: list[str] = []
    for i, tok in enumerate(tokens):
        tok = re.sub(r"'s?$", "", tok).strip(".-")
        if not tok:
            continue
        if (tok.lower() in _ORDINAL and i + 1 < len(tokens)
                and tokens[i + 1].lower().strip(".,") in _WHICH_ARTICLE):
            continue
        n = _number(tok)
        if n is not None:
            numbers.append(n)
            continue
        if tok[0].isupper() and tok.lower() not in STOPWORDS and tok.lower() not in GENERIC:
            if i == 0 and tok.lower() in _SENTENCE_START:
                continue
            for part in re.split(r"[-.]", tok):
                if part and part[0].isupper() and len(part) > 1:
                    names.append(part.lower())
    named = set(names)
    terms = [w for w in content_words(re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", text))
             if w not in named and w not in GENERIC and not w[0].isdigit()
             and _number(w) is None and len(w) > 2]
    percents = tuple(m.replace(",", ".") for m in _PERCENT.findall(text))
    return Facts(tuple(dict.fromkeys(names)), tuple(dict.fromkeys(numbers)), percents,
                 tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(name_phrases(claim))))


_CAP = re.compile(r"[A-Z][\w'’.-]*")


def _plain_words(text: str) -> str:
    return " ".join(re.sub(r"[^\w'\s-]", " ", text.replace("’", "'").lower()).split())


def name_phrases(claim: str) -> list[str]:
    """Runs of two or more capitalised words ("South Korean KCNA", "Moon Jae-in"), and a
    name followed by its place ("Kaesong, South Korea," but not the list "Amazon, Microsoft
    and Google"): a phrase the passage must hold as written. Each word of a wrong phrase can
    be in the passage ("South Korean", "KCNA") while the phrase says something it does not
    (KCNA is North Korea's news agency)."""
    words = re.findall(r"[^\s,;:()]+|[,;:()]", claim)
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        if _CAP.fullmatch(words[i].rstrip(".")) and not (
                i == 0 and words[i].lower() in _SENTENCE_START):
            j = i
            while j + 1 < len(words) and _CAP.fullmatch(words[j + 1].rstrip(".")):
                j += 1
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    phrases = []
    for k, (a, b) in enumerate(runs):
        if b > a:
            phrases.append(" ".join(words[a:b + 1]))
        if k + 1 < len(runs):
            c, d = runs[k + 1]
            after = words[d + 1] if d + 1 < len(words) else "."
            if (c == b + 2 and words[b + 1] == "," and (a == 0 or words[a - 1] != ",")
                    and after.lower() not in ("and", "or")
                    and not _CAP.fullmatch(after.rstrip("."))):
                phrases.append(" ".join(words[a:b + 1]) + " " + " ".join(words[c:d + 1]))
    return [_plain_words(p) for p in phrases if len(_plain_words(p).split()) >= 2]


def _stem_match(word: str, have: set[str], prefixes: set[str]) -> bool:
    """Whether ``word`` or a word sharing its stem is among ``have``: "explosion" and
    "exploded", "korea" and "korean", "rose" and "rising" do not all match; a shared start of
    five letters covering most of the shorter word does."""
    if word in have:
        return True
    if len(word) < 4:
        return False
    stem = word[:5] if len(word) >= 6 else word[:4]
    return stem in prefixes


class _Vocabulary:
    """A passage's words, numbers and percentages, ready for ``Facts`` lookups."""

    def __init__(self, text: str):
        spaced = re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", text.replace("’", "'"))
        words = set(content_words(spaced)) | {w.lower() for w in re.findall(r"[^\W_]+", spaced)}
        self.words = words
        self.prefixes = {w[:5] for w in words if len(w) >= 6} | {w[:4] for w in words
                                                                   if len(w) >= 4}
        nums = set()
        for w in re.findall(r"[^\W_][\w.,]*", spaced):
            n = _number(w.rstrip(".,"))
            if n is not None:
                nums.add(n)
            digits = re.sub(r"[^0-9.]", "", w.replace(",", "")).strip(".")
            if digits:
                nums.add(digits)
        self.numbers = nums
        self.percents = {m.replace(",", ".") for m in _PERCENT.findall(text)}
        self.plain = f" {_plain_words(text)} "

    def has_phrase(self, phrase: str) -> bool:
        return f" {phrase} " in self.plain

    def has_name(self, name: str) -> bool:
        if name in self.words:
            return True
        # a people's name for its place and back ("korean"/"korea", "nepalis"/"nepal")
        return len(name) >= 4 and any(
            (w.startswith(name) and len(w) - len(name) <= 3)
            or (name.startswith(w) and len(w) >= 4 and len(name) - len(w) <= 3)
            for w in self.words)

    def has_number(self, n: str) -> bool:
        return n in self.numbers or re.sub(r"(st|nd|rd|th)$", "", n) in self.numbers

    def has_term(self, term: str) -> bool:
        return _stem_match(term, self.words, self.prefixes)


def passage_words(p: Passage) -> str:
    """What a sentence citing the passage may draw on: its text, its article's headline and
    its publication date (the prompt shows both: "[1] Headline (published June 16, 2020)"),
    so "In June 2020, North Korea…" is backed by the passage's date, and so is "the Feb. 13
    report": news style abbreviates the month ("Feb.", "Sept.")."""
    d = parse_date(p.published)
    sept = "Sept " if d and d.month == 9 else ""
    when = f"{d:%B} {d:%b} {sept}{d.day} {d.year} {d:%A}" if d else ""
    return f"{p.text} {p.title} {when}"


@dataclass(frozen=True)
class SentenceVerdict:
    """One answer sentence after the check."""

    text: str
    """The sentence as written by the model, without its markers."""
    supported: bool
    passages: tuple[int, ...]
    """0-based indices (into ``Evidence.passages``) of the passages that back it."""
    sentences: tuple[int, ...]
    """Indices (into ``Evidence.sentences``) of the passage sentences that hold its facts:
    what its citations highlight."""
    cited: tuple[int, ...]
    """The passage numbers the model gave (1-based, as written)."""
    corrected: bool
    """The model's [n] did not back it and another passage does."""
    reason: str = ""
    """Why it was not shown (empty when shown)."""
    term_share: float = 0.0


def _missing(facts: Facts, vocab: _Vocabulary) -> tuple[list[str], float]:
    missing = [n for n in facts.names if not vocab.has_name(n)]
    missing += [f"“{p}”" for p in facts.phrases if not vocab.has_phrase(p)]
    missing += [n for n in facts.numbers if not vocab.has_number(n)]
    missing += [f"{p}%" for p in facts.percents if p not in vocab.percents]
    share = (sum(1 for t in facts.terms if vocab.has_term(t)) / len(facts.terms)
             if facts.terms else 1.0)
    return missing, share


def _supports(facts: Facts, vocab: _Vocabulary) -> tuple[bool, list[str], float]:
    missing, share = _missing(facts, vocab)
    return not missing and share >= TERM_SHARE, missing, share


def _support_sentences(facts: Facts, claim_vec: np.ndarray | None, evidence: Evidence,
                       passages: Sequence[int]) -> tuple[int, ...]:
    """The passage sentences that hold the claim's facts: the best one, then those that add
    a name or number the chosen ones lack (at most ``MAX_SUPPORT_SENTENCES``)."""
    candidates = [i for pi in passages for i in evidence.sentences_of(pi)]
    if not candidates:
        return ()
    vocabs = {i: _Vocabulary(evidence.sentences[i].text) for i in candidates}
    hard = list(facts.names) + list(facts.numbers)

    def coverage(i: int, wanted: Sequence[str]) -> float:
        v = vocabs[i]
        got = sum(2 for f in wanted if (v.has_number(f) if f[:1].isdigit() else v.has_name(f)))
        got += sum(1 for t in facts.terms if v.has_term(t))
        cos = float(evidence.vectors[i] @ claim_vec) if claim_vec is not None else 0.0
        return got + cos

    best = max(candidates, key=lambda i: coverage(i, hard))
    chosen = [best]
    left = [f for f in hard if not (vocabs[best].has_number(f) if f[:1].isdigit()
                                    else vocabs[best].has_name(f))]
    while left and len(chosen) < MAX_SUPPORT_SENTENCES:
        nxt = max((i for i in candidates if i not in chosen),
                  key=lambda i: sum(1 for f in left if (vocabs[i].has_number(f)
                                                        if f[:1].isdigit()
                                                        else vocabs[i].has_name(f))),
                  default=None)
        if nxt is None:
            break
        adds = [f for f in left if (vocabs[nxt].has_number(f) if f[:1].isdigit()
                                    else vocabs[nxt].has_name(f))]
        if not adds:
            break
        chosen.append(nxt)
        left = [f for f in left if f not in adds]
    return tuple(sorted(chosen))


_ROUND_MARKER = re.compile(r"\s*\((?:passage\s*)?(\d{1,2})\)(?=\s*[.!?]?[\"'”’]?\s*$)", re.I)


def check_sentence(sentence: str, evidence: Evidence,
                   claim_vec: np.ndarray | None = None) -> SentenceVerdict:
    """Check one sentence the model wrote (with its [n] markers) against the passages."""
    # "(2)" at the end is a marker too: the small model writes it as often as "[2]"
    text, cited = parse_markers(_ROUND_MARKER.sub(r" [\1]", sentence))
    text = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", text).strip()
    n = len(evidence.passages)
    facts = facts_of(text)
    if facts.empty:
        return SentenceVerdict(text, False, (), (), tuple(cited), False, NOTHING_CLAIMED)
    valid = [c - 1 for c in cited if 1 <= c <= n]
    tried: list[tuple[list[int], bool]] = []
    if valid:
        tried.append((valid, False))
    # a wrong [n]: the sentence moves to the passage that holds its facts (cited ones first),
    # else to two passages that hold them together (a sentence that joins two of them)
    tried += [([pi], True) for pi in range(n) if [pi] != valid]
    tried += [([a, b], True) for a in range(n) for b in range(a + 1, n) if [a, b] != valid]
    best_missing: list[str] | None = None
    best_share = 0.0
    chosen: tuple[list[int], bool, float] | None = None
    for group, moved in tried:
        if chosen is not None and (len(group) > 1 or chosen[2] >= 1.0):
            break  # a passage that holds it all is not bettered by a pair
        vocab = _Vocabulary(" ".join(passage_words(evidence.passages[pi]) for pi in group))
        ok, missing, share = _supports(facts, vocab)
        if ok and (chosen is None or share > chosen[2]):
            # the passage that holds most of it: a cited passage that holds only half of its
            # key terms gives way to one that holds them all ("cut ties", "retaliate")
            chosen = (group, moved, share)
        if best_missing is None or len(missing) < len(best_missing) or (
                len(missing) == len(best_missing) and share > best_share):
            best_missing, best_share = missing, share
    if chosen is not None:
        group, moved, share = chosen
        support = _support_sentences(facts, claim_vec, evidence, group)
        used = tuple(sorted({evidence.sentences[i].passage_index for i in support}))
        return SentenceVerdict(text, True, used or tuple(group), support, tuple(cited),
                               moved and bool(valid) or not valid, "", share)
    if best_missing:
        reason = f"not in the articles: {', '.join(best_missing[:3])}"
    else:
        reason = "not in the articles: most of its words are in no passage"
    return SentenceVerdict(text, False, (), (), tuple(cited), False, reason, best_share)


def split_answer(text: str, final: bool) -> tuple[list[str], str]:
    """The complete sentences of a reply being written, and the unfinished rest. A sentence
    is complete when the next one has begun (or the reply is over): bullets and lines are
    sentences of their own, and a line is cut with the one sentence splitter."""
    from qa.text.sentences import split_sentences

    done: list[str] = []
    lines = text.split("\n")
    tail_line = "" if final else lines.pop()
    for line in lines:
        if line.strip():
            done += [s.text for s in split_sentences(line)]
    if not tail_line.strip():
        return done, tail_line
    spans = split_sentences(tail_line)
    if len(spans) > 1:
        done += [s.text for s in spans[:-1]]
        return done, tail_line[spans[-1].start:]
    return done, tail_line


def is_heading(sentence: str) -> bool:
    """A line that introduces a list ("Here are the main points:"): not a claim."""
    s = sentence.strip()
    return s.endswith(":") and "[" not in s
