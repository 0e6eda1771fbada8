"""newsqa: ask questions about news articles and get answers cited to their passages.

    import qa
    kb = qa.open()                      # QA_DATA_DIR or ./data; seeds the shipped corpus
    kb.add("articles/")                 # files or folders: txt, md, html, pdf, jsonl
    for p in kb.retrieve("How much did the renovation cost?", k=3):
        print(p.score, p.title, p.text)
"""

from typing import TYPE_CHECKING

from qa.config import Settings
from qa.errors import EmbedderMismatchError, InputError, NotFoundError, QAError, StoreError
from qa.types import (
    AddOutcome,
    AddReport,
    Answer,
    AnswerSentence,
    Article,
    Citation,
    DocumentInfo,
    ExtractiveEvent,
    FinalEvent,
    Passage,
    TokenEvent,
    final_answer,
)

if TYPE_CHECKING:
    from qa.kb import KnowledgeBase
    from qa.kb import open_kb as open


def __getattr__(name: str):
    """``qa.open`` and ``qa.KnowledgeBase`` import the store and embedder code on first use, so
    that ``import qa`` (and every ``qa`` command, ``qa --help`` included) starts in a blink."""
    if name in ("open", "KnowledgeBase"):
        from qa import kb

        value = kb.open_kb if name == "open" else kb.KnowledgeBase
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qa' has no attribute {name!r}")

__all__ = [
    "AddOutcome",
    "AddReport",
    "Answer",
    "AnswerSentence",
    "Article",
    "Citation",
    "DocumentInfo",
    "EmbedderMismatchError",
    "ExtractiveEvent",
    "FinalEvent",
    "InputError",
    "KnowledgeBase",
    "NotFoundError",
    "Passage",
    "QAError",
    "Settings",
    "StoreError",
    "TokenEvent",
    "final_answer",
    "open",
]
