"""Domain errors: each carries the sentence the user sees, and never a stack trace."""

from __future__ import annotations


class NpsError(Exception):
    """A known reason a request did not proceed; `message` is shown to the user as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CommandError(NpsError):
    """The command text could not be understood; the help is shown with the mistake named."""


class NotFound(NpsError):
    pass


class Conflict(NpsError):
    """The follow-up is not in a state that allows the change (e.g. already claimed)."""


class Forbidden(NpsError):
    pass
