"""Fixtures for the decode-loop speed work: the tiny models (engine) and the home schema and grammar (grammar)."""

from tests.engine.conftest import tiny_model_dir, tiny_text_dir  # noqa: F401 - fixtures reused

# the grammar model and its declarations, for test_stream_grammar (other modules define their own ``model``)
from tests.grammar.conftest import declarations, grammar, grammar_model_dir, model, registry, schema  # noqa: F401 - fixtures reused  # noqa: F401 - fixtures reused
