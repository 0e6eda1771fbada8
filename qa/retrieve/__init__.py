"""Retrieve: find the passages for a question (dense, BM25, hybrid), prefer recent articles
when asked, and serve them as a LangChain retriever.
"""
