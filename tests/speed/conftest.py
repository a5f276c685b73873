"""Fixtures for the decode-loop speed work: the tiny models (engine) and the home schema and grammar (grammar)."""

from tests.engine.conftest import tiny_model_dir, tiny_text_dir  # noqa: F401 - fixtures reused
from tests.grammar.conftest import grammar, grammar_model_dir, registry, schema  # noqa: F401 - fixtures reused
