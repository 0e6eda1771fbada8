"""newsqa: ask questions about news articles and get answers cited to their passages.

    import qa
    kb = qa.open()                      # QA_DATA_DIR or ./data; seeds the shipped corpus
    kb.add("articles/")                 # files or folders: txt, md, html, pdf, jsonl
    for p in kb.retrieve("How much did the renovation cost?", k=3):
        print(p.score, p.title, p.text)
"""

from qa.config import Settings
from qa.errors import EmbedderMismatchError, InputError, NotFoundError, QAError, StoreError
from qa.kb import KnowledgeBase
from qa.kb import open_kb as open
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
