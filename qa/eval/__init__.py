"""Evaluation: run a question set through the knowledge base and write its report."""
