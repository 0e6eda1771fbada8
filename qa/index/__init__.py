"""Index: the embedder, the Chroma store (vectors, catalog, article texts) and the BM25 keyword
index beside it.
"""
