"""The instant answer: the best-matching sentences of the retrieved passages, no LLM.

Shown within half a second as a preview while the model is still reading its prompt; never
the answer itself (that is the model's quote-checked claim). Sentences are ranked by the
question score from ``qa.answer.evidence`` (dense cosine blended with keyword overlap); the
runner-up is added only when it is nearly as good and comes from another passage, so the
preview stays short.
"""

from __future__ import annotations

from qa.answer.citations import render
from qa.answer.evidence import Evidence
from qa.answer.quotes import is_assertion
from qa.types import AnswerSentence, Citation

RUNNER_UP_MARGIN = 0.05


def extractive_sentences(evidence: Evidence, max_sentences: int = 2) -> list[AnswerSentence]:
    """Top sentences as cited answer sentences, in reading order of their passages."""
    if not evidence.sentences:
        return []
    order = sorted(range(len(evidence.sentences)), key=lambda i: -evidence.question_scores[i])
    # a question or a headline in an article matches the question best and answers nothing
    order = [i for i in order if is_assertion(evidence.sentences[i].text)]
    if not order:
        return []
    top = order[0]
    chosen = [top]
    best = float(evidence.question_scores[top])
    for i in order[1:max_sentences * 3]:
        if len(chosen) >= max_sentences:
            break
        if best - float(evidence.question_scores[i]) > RUNNER_UP_MARGIN:
            break
        if evidence.sentences[i].passage_index != evidence.sentences[top].passage_index:
            chosen.append(i)
    out = []
    for i in sorted(chosen, key=lambda i: (evidence.sentences[i].passage_index, i)):
        s = evidence.sentences[i]
        p = evidence.passages[s.passage_index]
        citation = Citation(
            n=s.passage_index + 1,
            passage=p,
            start=s.start,
            end=s.end,
            quote=s.text,
            support=round(float(evidence.question_scores[i]), 4),
        )
        out.append(AnswerSentence(text=render(s.text, [citation.n]), citations=(citation,),
                                  supported=True))
    return out
