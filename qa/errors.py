"""Errors a user can act on. Each message is one line that says what and why."""


class QAError(Exception):
    """Base class: anything newsqa reports to a user rather than crashing on."""


class InputError(QAError):
    """A document that cannot be added; the message names the input and the reason."""

    def __init__(self, origin: str, reason: str):
        super().__init__(f"{origin}: {reason}")
        self.origin = origin
        self.reason = reason


class EmbedderMismatchError(QAError):
    """The store was built with another embedder; its vectors would be meaningless now."""


class StoreError(QAError):
    """The vector store is unreachable or unreadable."""


class NotFoundError(QAError):
    """A document id that is not in the store."""


class ConfigError(QAError, ValueError):
    """A setting (a QA_* variable) that cannot be used; a ValueError too, as before."""
