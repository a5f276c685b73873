"""Failures of a remote tier, each one line; the router treats every ``TierError`` as "use the local model"."""

from __future__ import annotations

from assistant.errors import AssistantError


class TierError(AssistantError):
    """A remote tier could not give an answer (down, slow, refusing, or its stream broke)."""


class TierUnreachable(TierError):
    """Nothing answered at the tier's address."""


class TierTimeout(TierError):
    """The tier answered too slowly."""


class TierHTTPError(TierError):
    """The tier answered with an HTTP error status or an error object."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class TierProtocolError(TierError):
    """The tier's answer could not be understood, or it stopped in the middle."""


class PrivacyError(AssistantError):
    """Something would leave the device that the privacy setting forbids."""

    exit_code = 2
