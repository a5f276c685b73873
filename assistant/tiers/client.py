"""A remote tier behind an OpenAI-compatible chat-completions API, on the standard library only.

Streams with server-sent events, assembles tool calls from their fragments, keeps thinking
out of the spoken text, and turns every failure into a one-line :class:`TierError`.
Timeouts: ``connect_timeout_s`` to connect; ``timeout_s`` for every wait on the socket and
as the deadline for the first spoken text (thinking does not count as spoken).
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from assistant.config.schema import RemoteTierConfig
from assistant.errors import AssistantError
from assistant.protocols import Event, Message, TextDelta
from assistant.tiers.errors import TierError, TierHTTPError, TierProtocolError, TierTimeout, TierUnreachable
from assistant.tiers.messages import to_openai
from assistant.tiers.privacy import require_text_privacy
from assistant.tiers.quirks import Quirks
from assistant.tiers.sse import sse_data
from assistant.tiers.stream import StreamAssembler

log = logging.getLogger(__name__)

MAX_LINE = 1 << 20
MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True)
class Health:
    """Result of a health check through ``GET /v1/models``."""

    ok: bool
    detail: str
    models: tuple[str, ...] = field(default_factory=tuple)
    seconds: float = 0.0


class OpenAITier:
    """:class:`assistant.protocols.Tier` for one ``[[tiers.remote]]`` entry."""

    def __init__(self, config: RemoteTierConfig, privacy: str, clock: Callable[[], float] = time.monotonic) -> None:
        require_text_privacy(privacy, f"remote tier {config.name!r}")
        self.config = config
        self.name = config.name
        self.quirks = Quirks(config.server)
        self._clock = clock
        parts = urlsplit(config.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AssistantError(f"tier {config.name!r}: url {config.url!r} must be http://HOST[:PORT]/v1 or https://...")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._ssl = self._ssl_context() if self._https else None

    @property
    def url_scheme(self) -> str:
        return "https" if self._https else "http"

    # -- the Tier protocol -------------------------------------------------------------------

    def generate(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = (),
                 tool_choice: str | Mapping[str, Any] | None = None) -> Iterator[Event]:
        """Stream the answer; raises PrivacyError at once for audio, TierError while streaming."""
        body = self.request_body(messages, tools)
        if tools and tool_choice is not None:
            body["tool_choice"] = tool_choice
        return self._stream(body)

    def healthy(self) -> bool:
        return self.health().ok

    # -- details -----------------------------------------------------------------------------

    def request_body(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
        """The JSON body of a chat-completions request (text only: audio raises PrivacyError)."""
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": to_openai(messages),
            "stream": True,
            "max_tokens": self.config.max_tokens,
        }
        if tools:
            body["tools"] = [dict(t) for t in tools]
        body.update(self.quirks.request_extras(self.config.thinking))
        return body

    def health(self, timeout_s: float | None = None) -> Health:
        """``GET /v1/models``: reachable, answering, and serving the configured model."""
        started = self._clock()
        timeout = timeout_s if timeout_s is not None else min(self.config.timeout_s, 5.0)
        try:
            conn = self._connect(min(timeout, self.config.connect_timeout_s), timeout)
            try:
                conn.request("GET", f"{self._prefix}/models", headers=self._headers())
                resp = conn.getresponse()
                raw = resp.read(MAX_ERROR_BODY * 16)
                if resp.status != 200:
                    raise TierHTTPError(self._http_message(resp.status, raw), resp.status)
            finally:
                conn.close()
            models = _model_ids(raw)
        except (TierError, OSError, http.client.HTTPException, ValueError) as err:
            return Health(False, _describe(err, self.name), seconds=self._clock() - started)
        elapsed = self._clock() - started
        if not any(self.quirks.model_matches(self.config.model, m) for m in models):
            listed = ", ".join(models[:5]) or "none"
            return Health(False, f"model {self.config.model!r} not served (server lists: {listed})", tuple(models), elapsed)
        return Health(True, f"serving {self.config.model!r}", tuple(models), elapsed)

    def _stream(self, body: dict[str, Any]) -> Iterator[Event]:
        deadline = self._clock() + self.config.timeout_s
        assembler = StreamAssembler()
        conn = None
        try:
            conn = self._connect(self.config.connect_timeout_s, self.config.timeout_s)
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers = {**self._headers(), "Content-Type": "application/json", "Accept": "text/event-stream"}
            conn.request("POST", f"{self._prefix}/chat/completions", body=payload, headers=headers)
            resp = conn.getresponse()
            if resp.status != 200:
                raise TierHTTPError(self._http_message(resp.status, resp.read(MAX_ERROR_BODY)), resp.status)
            if "text/event-stream" not in (resp.getheader("Content-Type") or ""):
                yield from assembler.whole(_json(resp.read(), self.name))
                return
            for data in sse_data(iter(lambda: resp.readline(MAX_LINE), b"")):
                if data.strip() == "[DONE]":
                    assembler.done = True
                    break
                for event in assembler.chunk(_json(data.encode("utf-8"), self.name)):
                    deadline = float("inf")
                    yield event
                if self._clock() > deadline:
                    raise TierTimeout(f"tier {self.name!r}: no answer within {self.config.timeout_s:g} s")
            yield from assembler.finish(self.name)
        except TierError:
            raise
        except TimeoutError:
            raise TierTimeout(f"tier {self.name!r}: no answer within {self.config.timeout_s:g} s") from None
        except (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError) as err:
            raise TierProtocolError(f"tier {self.name!r}: connection lost mid-answer ({type(err).__name__})") from None
        except (OSError, http.client.HTTPException) as err:
            raise TierUnreachable(_describe(err, self.name)) from None
        finally:
            if conn is not None:
                conn.close()
            if assembler.hidden_chars:
                log.debug("tier %s: %d characters of thinking not spoken", self.name, assembler.hidden_chars)

    def _connect(self, connect_timeout: float, read_timeout: float) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=connect_timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=connect_timeout)
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            raise TierUnreachable(f"tier {self.name!r}: no connection to {self._host}:{self._port} within "
                                  f"{connect_timeout:g} s") from None
        except ssl.SSLError as err:
            conn.close()
            raise TierUnreachable(f"tier {self.name!r}: TLS failed ({err.reason or err})") from None
        except OSError as err:
            conn.close()
            raise TierUnreachable(f"tier {self.name!r}: cannot connect to {self._host}:{self._port} "
                                  f"({err.strerror or err})") from None
        if conn.sock is not None:
            conn.sock.settimeout(read_timeout)
        return conn

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": "assistant-tier/1"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    def _ssl_context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self.config.ca_file or None)
        except (OSError, ssl.SSLError) as err:
            raise AssistantError(f"tier {self.name!r}: cannot load ca_file {self.config.ca_file!r} ({err})") from None

    def _http_message(self, status: int, raw: bytes) -> str:
        message = _error_text(raw)
        return f"tier {self.name!r}: HTTP {status}: {message}{self.quirks.hint_for_error(status, message)}"


def _json(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise TierProtocolError(f"tier {name!r}: answer is not JSON: {raw[:80]!r}") from None
    if not isinstance(value, dict):
        raise TierProtocolError(f"tier {name!r}: answer is not a JSON object")
    if "error" in value:
        raise TierHTTPError(f"tier {name!r}: {_error_text(json.dumps(value).encode())}")
    return value


def _error_text(raw: bytes) -> str:
    try:
        value = json.loads(raw)
    except ValueError:
        return " ".join(raw.decode("utf-8", errors="replace").split())[:200] or "(no message)"
    err = value.get("error", value) if isinstance(value, dict) else value
    if isinstance(err, dict):
        err = err.get("message") or err.get("detail") or err
    return " ".join(str(err).split())[:200]


def _model_ids(raw: bytes) -> list[str]:
    value = json.loads(raw)
    items = value.get("data") or value.get("models") or [] if isinstance(value, dict) else []
    return [str(m.get("id") or m.get("name") or m.get("model")) for m in items if isinstance(m, dict)]


def _describe(err: BaseException, name: str) -> str:
    if isinstance(err, AssistantError):
        return str(err)
    if isinstance(err, (TimeoutError, socket.timeout)):
        return f"tier {name!r}: timed out"
    return f"tier {name!r}: {type(err).__name__}: {err}"


__all__ = ["Health", "OpenAITier", "TextDelta"]
