"""``assistant run --wav`` with the tiny model: "set the volume" becomes a ``set_volume`` call under the
grammar, the service answers in the configured language (German), and the level is kept on disk."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from assistant.language import phrases

from ..conftest import run_cli
from .e2e import speech_wav, turns, write_config

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def test_a_spoken_volume_command_is_a_set_volume_call_answered_in_the_household_language(tmp_path, tiny_audio_dir, pulse):
    wav = speech_wav(tmp_path / "turn.wav", "okay nabu", "set the volume to forty percent")
    config = write_config(tmp_path / "config.toml", tiny_audio_dir, tmp_path / "state", None, tool_grammar="force",
                          own_tools=True)
    with config.open("a") as fh:
        fh.write('[language]\ndefault = "de"\n')
    result = run_cli("--config", str(config), "run", "--wav", str(wav), timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    (turn,) = turns(result.stdout)
    (action,) = turn["actions"]  # the only tool besides end_conversation: the forced call is set_volume
    assert action["tool"] == "set_volume" and not action["failed"]
    level = json.loads((tmp_path / "state" / "volume.json").read_text())["percent"]
    assert action["result"] == f"The volume is now {level} percent."  # the tool answers in words (English inside)
    assert turn["spoken"] == [phrases.text("volume_set", "de", percent=level)]  # spoken in the household's language
    assert re.fullmatch(r"Die Lautstärke ist jetzt \d+ Prozent\.", turn["spoken"][0])
