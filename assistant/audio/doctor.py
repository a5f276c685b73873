"""``assistant doctor`` checks of the audio stage: the configured wake word on a spoken test clip.

The clip is espeak-ng saying the wake phrase (in a voice the bundled model is known to fire on),
with silence around it, fed frame by frame through the configured detector and threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from assistant.config import Config
from assistant.errors import AssistantError

PHRASES = {"okay_nabu": "okay nabu", "hey_jarvis": "hey jarvis", "alexa": "alexa", "hey_mycroft": "hey mycroft"}
VOICES = {"okay_nabu": "en-us", "hey_jarvis": "en+f4", "alexa": "en-gb", "hey_mycroft": "en-gb-x-rp"}
Outcome = tuple[str, str, str]


def wake_word(config: Config) -> Outcome:
    name = config.wakeword.model
    if name not in PHRASES:
        return "skip", f"{name}: a custom model, no test phrase known (try it with 'assistant listen')", ""
    from assistant.audio.clips import espeak, place
    from assistant.audio.wakeword import Detector, load_wakeword

    try:
        speech = espeak(PHRASES[name], VOICES[name])
    except AssistantError as err:
        return "skip", f"no test clip: {err}", ""
    clip = place(speech, lead_s=0.5, trail_s=1.0, snr_db=None).samples
    detector = Detector(load_wakeword(name), config.wakeword)
    fired, best = _feed(detector, clip, config.audio.block_ms)
    detail = f"{name} on a spoken test clip: best score {best:.2f}, threshold {config.wakeword.threshold:.2f}"
    if fired:
        return "ok", f"fired ({detail})", ""
    return ("warn", f"did not fire ({detail})",
            "lower wakeword.threshold a little, or check it with your own voice: 'assistant listen'")


def _feed(detector: Any, clip: np.ndarray, block_ms: int) -> tuple[bool, float]:
    block = 16 * block_ms
    fired, best = False, 0.0
    for i in range(0, len(clip) - block + 1, block):
        fired = detector.detect(clip[i: i + block]) or fired
        best = max(best, float(detector.score))
    return fired, best


def doctor_checks() -> list[tuple[str, Callable[[Config], Outcome]]]:
    return [("wake word", wake_word)]
