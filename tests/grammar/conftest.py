"""Fixtures for the tool-call grammar: the home fixture registry's schema, the tiny tokenizer and a tiny model."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.engine.decoding.prompt import load_tokenizer
from assistant.engine.grammar.grammar import Grammar, compile_schema
from assistant.engine.grammar.tokengrammar import TokenGrammar
from assistant.home import tools
from tests.home import fixtures

ROOT = Path(__file__).resolve().parents[2]


def home_schema(registry: Any) -> dict[str, dict[str, Any]]:
    """``tool_schema()`` as the service passes it in; ``set_brightness`` takes percent or change, not both.

    The ``exclusive`` group is what validation requires; it is added here until ``tool_schema()`` emits it.
    """
    schema = tools.tool_schema(registry.devices())
    schema["set_brightness"].setdefault("exclusive", [["percent", "change"]])
    return schema


@pytest.fixture(scope="session")
def registry() -> Any:
    return fixtures.loaded_registry()


@pytest.fixture(scope="session")
def schema(registry: Any) -> dict[str, dict[str, Any]]:
    return home_schema(registry)


@pytest.fixture(scope="session")
def grammar(schema: dict[str, dict[str, Any]]) -> Grammar:
    return compile_schema(schema)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny models' tokenizer files and chat template (no model weights, no torch)."""
    from models.tokenizer_files import write_tokenizer

    out = tmp_path_factory.mktemp("tiny-tokenizer")
    write_tokenizer(out, 4096)
    shutil.copy(ROOT / "models" / "chat_template.jinja", out / "chat_template.jinja")
    return out


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir: Path) -> Any:
    return load_tokenizer(tokenizer_dir)


@pytest.fixture(scope="session")
def token_grammar(grammar: Grammar, tokenizer: Any) -> TokenGrammar:
    return TokenGrammar(grammar, tokenizer)


@pytest.fixture(scope="session")
def grammar_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random text-only Gemma 4 (fp32), built in a subprocess so torch stays out of this one."""
    out = tmp_path_factory.mktemp("tiny-text") / "model"
    proc = subprocess.run([sys.executable, str(ROOT / "models" / "tiny_gemma4.py"), str(out), "--config", "text",
                           "--precisions", "fp32"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def model(grammar_model_dir: Path) -> Any:
    """The tiny fp32 model, loaded once per test module (its prefix cache is state)."""
    from assistant.config.schema import ModelConfig
    from assistant.engine.model import GemmaModel

    cfg = ModelConfig(decoder_precision="fp32", embed_precision="fp32", audio_precision="fp32")
    return GemmaModel.load(grammar_model_dir, cfg)


@pytest.fixture(scope="module")
def model_grammar(model: Any, grammar: Grammar) -> TokenGrammar:
    """The grammar over the tiny model's own tokenizer (``token_grammar`` is over the 4096-token one)."""
    return TokenGrammar(grammar, model.tokenizer)


@pytest.fixture(scope="module")
def declarations(schema: dict[str, dict[str, Any]], registry: Any) -> list[dict[str, Any]]:
    """The tool declarations of the fixture home, as the model sees them."""
    return tools.declarations(schema, registry.devices())
