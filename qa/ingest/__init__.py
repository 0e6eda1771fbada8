"""Ingest: read files and pasted text into clean articles, then cut them into chunks that keep
their offsets.
"""
