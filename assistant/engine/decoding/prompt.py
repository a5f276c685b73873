"""Prompts through the model directory's own chat template, and the audio placeholder expansion.

``Message`` values become the chat template's messages (OpenAI shape: ``assistant`` turns with
``tool_calls``, ``tool`` turns with the result); tool declarations are passed as ``tools``. The
template renders each audio clip as one ``<|audio|>``; after tokenizing, each of those is
expanded to ``<|audio>`` + ``<|audio|>`` x n + ``<audio|>`` (what ``Gemma4Processor`` does, which
cannot be built without torch). Every special id comes from the tokenizer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assistant.engine.graphs.model_dir import ModelDirError
from assistant.errors import AssistantError
from assistant.protocols import Message

ROLES = {"system": "system", "user": "user", "model": "assistant", "assistant": "assistant", "tool": "tool"}


def load_tokenizer(model_dir: Path) -> Any:
    """The model's fast tokenizer (with its chat template), or a one-line error naming the file."""
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if not (model_dir / name).is_file():
            raise ModelDirError(f"{model_dir / name}: missing (the model directory is incomplete)")
    from transformers import PreTrainedTokenizerFast

    try:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(str(model_dir), local_files_only=True)
    except Exception as err:  # tokenizers/transformers raise many types for a corrupt file
        raise ModelDirError(f"{model_dir / 'tokenizer.json'}: cannot load the tokenizer ({_first_line(err)})") from err
    if not tokenizer.chat_template:
        raise ModelDirError(f"{model_dir / 'chat_template.jinja'}: the tokenizer has no chat template")
    return tokenizer


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]


def template_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """``Message`` values as chat-template dicts."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        role = ROLES.get(msg.role)
        if role is None:
            raise AssistantError(f"unknown message role {msg.role!r} (use system, user, model or tool)")
        item: dict[str, Any] = {"role": role}
        if msg.audio is not None:
            content: list[dict[str, Any]] = [{"type": "audio"}]
            if msg.text:
                content.append({"type": "text", "text": msg.text})
            item["content"] = content
        else:
            item["content"] = msg.text
        if msg.tool_calls:
            item["tool_calls"] = [
                {"type": "function", "function": {"name": c.name, "arguments": dict(c.arguments)}} for c in msg.tool_calls
            ]
        if role == "tool":
            item["name"] = msg.tool_name
            item["content"] = _tool_content(msg.text)
        out.append(item)
    return out


def _tool_content(text: str) -> Any:
    """A tool result: JSON objects stay structured (rendered as ``response:NAME{k:v}``)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


class PromptBuilder:
    """Renders conversations with the model's template and turns them into prompt ids."""

    def __init__(self, tokenizer: Any, audio_token_id: int, boa_token_id: int, eoa_token_id: int) -> None:
        self.tokenizer = tokenizer
        vocab = tokenizer.get_vocab()
        self.audio_id = self._resolve(vocab, "<|audio|>", audio_token_id)
        self.boa_id = self._resolve(vocab, "<|audio>", boa_token_id)
        self.eoa_id = self._resolve(vocab, "<audio|>", eoa_token_id)

    @staticmethod
    def _resolve(vocab: Mapping[str, int], token: str, config_id: int) -> int:
        """The tokenizer's id for ``token``; it must agree with config.json when both know it."""
        token_id = vocab.get(token, -1)
        if token_id >= 0 and config_id >= 0 and token_id != config_id:
            raise ModelDirError(f"tokenizer.json gives {token} id {token_id} but config.json says {config_id}")
        return token_id if token_id >= 0 else config_id

    def render(self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] = (), thinking: bool = False) -> str:
        """The prompt text, ending with the generation prompt for a model turn."""
        try:
            return str(
                self.tokenizer.apply_chat_template(
                    template_messages(messages),
                    tools=[dict(t) for t in tools] or None,
                    add_generation_prompt=True,
                    tokenize=False,
                    enable_thinking=thinking,
                )
            )
        except AssistantError:
            raise
        except Exception as err:  # jinja2 errors, including raise_exception() in the template
            raise AssistantError(f"the chat template cannot render this conversation: {_first_line(err)}") from err

    def encode(self, text: str, audio_tokens: Sequence[int] = ()) -> list[int]:
        """Token ids of rendered ``text``, each ``<|audio|>`` expanded for the clip at its position."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        slots = [i for i, t in enumerate(ids) if t == self.audio_id]
        if len(slots) != len(audio_tokens):
            raise AssistantError(f"the prompt has {len(slots)} audio placeholders for {len(audio_tokens)} audio clips")
        if not slots:
            return list(ids)
        out: list[int] = []
        prev = 0
        for slot, n in zip(slots, audio_tokens, strict=True):
            out.extend(ids[prev:slot])
            out.append(self.boa_id)
            out.extend([self.audio_id] * n)
            out.append(self.eoa_id)
            prev = slot + 1
        out.extend(ids[prev:])
        return out
