"""Privacy: 'off' sends nothing at all, 'text' never sends audio; both checked at the socket level."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config.schema import RemoteTierConfig, RouteRuleConfig, TiersConfig
from assistant.protocols import Message
from assistant.tiers.client import OpenAITier
from assistant.tiers.errors import PrivacyError, TierError
from assistant.tiers.factory import build_router, build_tiers

from .conftest import EscalatingEngine

AUDIO = np.zeros(1600, dtype=np.int16)


def test_privacy_off_sends_nothing(listener):
    config = TiersConfig(privacy="off", remote=(RemoteTierConfig(name="desk", url=listener.url),),
                         rules=(RouteRuleConfig(pattern="rome", tier="remote"),))
    assert build_tiers(config) == []
    local = EscalatingEngine()
    router = build_router(local, config)
    for messages in ([Message(role="user", audio=AUDIO)], [Message(role="user", text="history of Rome")]):
        text = "".join(e.text for e in router.generate(messages) if hasattr(e, "text"))
        assert text == "Because of scattering."
        assert router.last_record.tier == "local"
    assert [t for _, tools in local.calls for t in tools] == []
    assert listener.connections == 0
    assert listener.received == b""


def test_privacy_text_control_does_reach_the_socket(listener):
    """The control for the test above: with privacy 'text' the same setup does connect and send the question."""
    config = TiersConfig(privacy="text", remote=(RemoteTierConfig(name="desk", url=listener.url, connect_timeout_s=1.0),))
    router = build_router(EscalatingEngine(), config)
    list(router.generate([Message(role="user", audio=AUDIO)]))
    assert listener.connections == 1
    assert b"Why is the sky blue?" in listener.received
    assert router.last_record.tier == "local"


def test_a_tier_cannot_be_built_when_privacy_is_off():
    with pytest.raises(PrivacyError, match="may not send anything"):
        OpenAITier(RemoteTierConfig(), "off")
    with pytest.raises(PrivacyError, match="unknown privacy"):
        OpenAITier(RemoteTierConfig(), "audio")


def test_audio_never_leaves(listener):
    tier = OpenAITier(RemoteTierConfig(name="desk", url=listener.url, connect_timeout_s=1.0), "text")
    with pytest.raises(PrivacyError, match="audio never leaves"):
        tier.generate([Message(role="user", text="hi", audio=AUDIO)])
    assert listener.connections == 0
    with pytest.raises(TierError):
        list(tier.generate([Message(role="user", text="hi")]))
    assert listener.connections == 1
    assert b'"hi"' in listener.received


def test_only_the_question_text_is_sent(listener):
    """The remote request holds the escalated question and a short system line, nothing of the local turn."""
    config = TiersConfig(remote=(RemoteTierConfig(name="desk", url=listener.url, connect_timeout_s=1.0),))
    history = [Message(role="system", text="SECRET-SYSTEM-PROMPT"), Message(role="user", text="", audio=AUDIO)]
    list(build_router(EscalatingEngine(), config).generate(history))
    body = listener.received.partition(b"\r\n\r\n")[2]
    assert b"Why is the sky blue?" in body
    assert b"SECRET-SYSTEM-PROMPT" not in body
