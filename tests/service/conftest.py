"""Fixtures the service's end-to-end tests share with other parts: the tiny model and PulseAudio."""

from ..audio.conftest import pulse  # noqa: F401 - fixture
from ..engine.conftest import tiny_audio_dir, tiny_model_dir, tiny_text_dir  # noqa: F401 - fixtures
