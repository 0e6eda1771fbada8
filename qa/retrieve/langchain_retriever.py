"""The knowledge base as a LangChain retriever, so it drops into anyone's chain."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever


class KnowledgeBaseRetriever(BaseRetriever):
    """Returns Documents whose metadata carries every Passage field except the text."""

    kb: Any
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        docs = []
        for p in self.kb.retrieve(query, self.k):
            meta = p.to_dict()
            text = meta.pop("text")
            docs.append(Document(page_content=text, metadata=meta, id=p.chunk_id or None))
        return docs
