"""The privacy rule, enforced where data could leave: ``off`` sends nothing, ``text`` sends text only.

A remote tier client cannot be constructed unless privacy is ``text``, and it converts
messages through :func:`text_only`, which refuses any message that carries audio.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.protocols import Message
from assistant.tiers.errors import PrivacyError

PRIVACY_LEVELS = ("off", "text")


def require_text_privacy(privacy: str, what: str) -> None:
    """Raise unless ``privacy`` allows text to leave the device."""
    if privacy not in PRIVACY_LEVELS:
        raise PrivacyError(f"unknown privacy setting {privacy!r} (allowed: {', '.join(PRIVACY_LEVELS)})")
    if privacy != "text":
        raise PrivacyError(f"tiers.privacy is {privacy!r}: {what} may not send anything off this device")


def text_only(messages: Sequence[Message]) -> list[Message]:
    """The messages unchanged, or PrivacyError if any of them holds audio."""
    for i, message in enumerate(messages):
        if message.audio is not None:
            raise PrivacyError(f"message {i} ({message.role}) holds audio; audio never leaves this device")
    return list(messages)
