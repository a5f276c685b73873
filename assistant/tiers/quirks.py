"""What differs between llama-server, Ollama, vLLM and plain OpenAI-compatible servers.

- Thinking switch: llama-server and vLLM take ``chat_template_kwargs.enable_thinking``
  (Gemma 4's chat template reads it); Ollama's ``/v1`` API takes ``reasoning_effort``
  (``"none"`` turns thinking off). Plain OpenAI servers get nothing extra.
- Reasoning text comes back as ``reasoning_content`` (llama-server, vLLM before the rename),
  ``reasoning`` (Ollama, newer vLLM) or inline markers; all are kept out of speech.
- Model names: Ollama names carry a tag (``gemma4:26b``; no tag means ``:latest``); vLLM
  serves the Hugging Face id (``google/gemma-4-26B-A4B-it``) unless ``--served-model-name``;
  llama-server answers with whatever single model it loaded, whatever name is asked for.
- Ollama may omit tool-call ids and indexes; vLLM needs ``--enable-auto-tool-choice`` and
  a ``--tool-call-parser`` before it accepts tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SERVER_KINDS = ("llama-server", "ollama", "vllm", "openai")


@dataclass(frozen=True)
class Quirks:
    """Per-server behaviour of one tier."""

    kind: str

    def request_extras(self, thinking: bool) -> dict[str, Any]:
        """Fields added to every chat-completions request."""
        if self.kind in ("llama-server", "vllm"):
            return {"chat_template_kwargs": {"enable_thinking": thinking}}
        if self.kind == "ollama":
            return {"reasoning_effort": "high" if thinking else "none"}
        return {}

    def model_matches(self, wanted: str, served: str) -> bool:
        """Whether the server's model id ``served`` is the configured ``wanted``."""
        if self.kind == "llama-server":
            return True
        if self.kind == "ollama":
            return _ollama_tagged(wanted) == _ollama_tagged(served)
        return wanted == served

    def hint_for_error(self, status: int, message: str) -> str:
        """A short hint appended to an HTTP error, where one helps."""
        lowered = message.lower()
        if self.kind == "vllm" and "tool" in lowered and status == 400:
            return " (start vLLM with --enable-auto-tool-choice --tool-call-parser gemma4)"
        if self.kind == "ollama" and status == 404:
            return " (pull the model first: ollama pull MODEL)"
        if status in (401, 403):
            return " (check tiers.remote.api_key_file)"
        return ""


def _ollama_tagged(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return name if ":" in base else f"{name}:latest"
