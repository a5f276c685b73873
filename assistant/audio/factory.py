"""Build the audio front end from a ``Config``: what the service calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.audio.wakeword import Detector, load_wakeword
from assistant.config.schema import AudioConfig, TtsConfig, VadConfig, WakeWordConfig
from assistant.protocols import AudioSource, Tts, Vad

if TYPE_CHECKING:
    from assistant.audio.playback import Player


def open_source(config: AudioConfig, wav: str = "", realtime: bool = True) -> AudioSource:
    """The microphone, or with ``wav`` that file replayed (in real time unless ``realtime`` is False)."""
    if wav:
        from assistant.audio.wavfile import WavSource

        return WavSource(wav, block_ms=config.block_ms, realtime=realtime)
    from assistant.audio.microphone import MicrophoneSource

    return MicrophoneSource(config)


def make_wakeword(config: WakeWordConfig) -> Detector:
    """The configured wake-word model wrapped in a ``Detector`` (``.model`` is the ``WakeWord``)."""
    return Detector(load_wakeword(config.model), config)


def make_vad(config: VadConfig) -> Vad:
    if config.engine == "silero":
        from assistant.audio.vad import SileroVad

        return SileroVad(config.silero_model, config.silero_threshold)
    from assistant.audio.vad import WebRtcVad

    return WebRtcVad(config.aggressiveness)


def make_tts(config: TtsConfig) -> Tts:
    from assistant.audio.tts import make_tts as build

    return build(config)


def make_player(config: AudioConfig) -> Player:
    """The speaker (``audio.output_device``) with its playback thread."""
    from assistant.audio.playback import Player

    return Player(config.output_device)
