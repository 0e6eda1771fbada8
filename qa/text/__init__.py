"""Text helpers every stage shares: sentences with their offsets, content words, dates."""
