"""Text cleaning shared by every loader: whitespace, invisible characters, page boilerplate.

Trafilatura removes boilerplate from HTML; plain text and Markdown (pasted or saved from a page)
carry the same debris (comment-section tails, share prompts) with no markup to find it by,
so this module removes it by pattern.
"""

from __future__ import annotations

import re
import unicodedata

# Paragraphs that start a comment section: everything from here to the end is not the article.
_TAIL_MARKERS = re.compile(
    r"^(leave a (reply|comment)|be the first to comment|post a comment|add a comment|"
    r"join the (conversation|discussion)|\d+ comments?|comments?( \(\d+\))?|"
    r"your email address will not be published)\b",
    re.IGNORECASE,
)
# Short paragraphs that are page furniture wherever they appear.
_FURNITURE = re.compile(
    r"^(advertisement|skip to (main )?content|share (this|on)\b.*|click to share.*|"
    r"sign up for (our|the) newsletter.*|subscribe( now)?|read more:?|"
    r"related( articles| stories)?:?|"
    r"follow us on .*|all rights reserved\.?|copyright ©.*|© \d{4}.*)$",
    re.IGNORECASE,
)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def normalize(text: str) -> str:
    """Unify newlines and spaces and drop invisible characters, keeping paragraph breaks."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = re.sub(r"[ \t\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def drop_boilerplate(text: str) -> str:
    """Remove comment-section tails and page furniture from normalized text.

    A tail marker only counts in the last half of the article, so an article that merely
    mentions "comments" early on keeps its body.
    """
    paras = paragraphs(text)
    if not paras:
        return ""
    cut = len(paras)
    half = len(paras) // 2
    for i in range(len(paras) - 1, half - 1, -1):
        if len(paras[i]) < 120 and _TAIL_MARKERS.match(paras[i]):
            cut = i
    kept = [p for p in paras[:cut] if not (len(p) < 120 and _FURNITURE.match(p))]
    return "\n\n".join(kept)


def clean(text: str) -> str:
    return drop_boilerplate(normalize(text))
