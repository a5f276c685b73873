"""The engine never imports torch: not on import, and not while running a turn with audio.

torch is installed in the test environment, so these checks can fail for real.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IMPORTS = """
import sys
import assistant.engine, assistant.engine.model, assistant.engine.graphs.hub, assistant.engine.verify
import assistant.audio.wavfile, assistant.commands.models, assistant.commands.ask
from assistant.engine import GemmaModel
assert 'torch' not in sys.modules, 'torch was imported'
print('ok')
"""

TURN = """
import sys
import numpy as np
from assistant.config.schema import ModelConfig
from assistant.engine import GemmaModel
from assistant.protocols import Message
model = GemmaModel.load(sys.argv[1], ModelConfig(decoder_precision='q4', embed_precision='q4', audio_precision='q4'))
clip = (np.sin(np.arange(32000) * 0.05) * 5000).astype(np.int16)
events = list(model.generate([Message(role='user', text='hi', audio=clip)]))
assert 'torch' not in sys.modules, 'torch was imported'
print('ok')
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_importing_the_engine_leaves_torch_out() -> None:
    proc = _run(IMPORTS)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.slow
def test_a_turn_with_audio_leaves_torch_out(tiny_audio_dir: Path) -> None:
    proc = _run(TURN, str(tiny_audio_dir))
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
