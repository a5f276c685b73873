"""Speech in the reply's language: one synthesiser per language, chosen sentence by sentence.

:class:`LanguageTts` is a :class:`assistant.protocols.Tts`. A :class:`Session` (one per reply or
announcement) decides each sentence's language: a fixed phrase of the service (``Done.``) is
rendered in the session's language; any other sentence is detected (``detect.py``) and, when the
detection is confident, becomes the session's language. With ``language.reply = "fixed"`` every
sentence is spoken in the default language. The voice of a language is its ``[[language.voices]]``
entry (a Piper model or an espeak-ng voice), the ``[tts]`` voice when it speaks that language, else
espeak-ng's built-in voice for it. ``spoken`` records (voice, text) of recent sentences.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assistant.config.schema import LanguageConfig, TtsConfig
from assistant.errors import AssistantError
from assistant.language import phrases
from assistant.language.detect import detect
from assistant.protocols import AudioChunk, Tts

log = logging.getLogger("assistant.language")

ESPEAK_VOICES = {"en": "en-us", "de": "de", "fr": "fr-fr", "es": "es"}
NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}


@dataclass(frozen=True)
class Voice:
    """What speaks one language: a Piper model, else an espeak-ng voice."""

    language: str
    espeak: str
    piper: str = ""

    @property
    def name(self) -> str:
        return f"piper:{self.piper}" if self.piper else f"espeak:{self.espeak}"


def voice_for(language: str, tts: TtsConfig, config: LanguageConfig) -> Voice:
    """The configured voice of ``language`` (see the module docstring for the order)."""
    entry = next((v for v in config.voices if v.language == language), None)
    builtin = ESPEAK_VOICES.get(language, tts.voice)
    own = tts.voice if tts.voice.split("-")[0].split("+")[0] == language else ""
    espeak = (entry.espeak_voice if entry else "") or own or builtin
    piper = entry.piper_model if entry and entry.piper_model else ""
    if not piper and tts.engine == "piper" and tts.piper_model and language == config.default:
        piper = tts.piper_model
    return Voice(language, espeak, piper)


class LanguageTts:
    """Synthesisers per language, made on first use by ``make(voice)``; thread-safe."""

    def __init__(self, tts: TtsConfig, config: LanguageConfig, make: Callable[[Voice], Tts] | None = None) -> None:
        self.tts_config, self.config = tts, config
        self.default = config.default
        self.follow = config.reply == "auto"
        self.current = self.default  # the language of the latest confidently detected reply
        self._make = make or (lambda voice: make_voice(voice, tts))
        self._voices: dict[str, tuple[Voice, Tts]] = {}
        self._lock = threading.Lock()
        self.spoken: deque[tuple[str, str]] = deque(maxlen=200)  # (voice name, text), newest last

    def voice(self, language: str) -> tuple[Voice, Tts]:
        language = language if language in ESPEAK_VOICES else self.default
        with self._lock:
            found = self._voices.get(language)
            if found is None:
                voice = voice_for(language, self.tts_config, self.config)
                found = self._voices[language] = (voice, self._make(voice))
            return found

    def reply_language(self) -> str:
        """The language a reply starting now is in: the latest detected one, or the default (``fixed``)."""
        return self.current if self.follow else self.default

    def session(self, language: str = "", track: bool = True) -> Session:
        """A reply's (``track``: its detections carry over to the next reply) or an announcement's session."""
        return Session(self, language or self.reply_language(), track)

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        """A sentence outside any reply: detected on its own."""
        session = self.session(track=False)
        line, language = session.prepare(text)
        return self.synthesize_in(line, language)

    def synthesize_in(self, text: str, language: str) -> Iterator[AudioChunk]:
        voice, tts = self.voice(language)
        self.spoken.append((voice.name, text))
        log.debug("speaking with %s: %s", voice.name, text[:60])
        return tts.synthesize(text)


class Session:
    """The language of one reply, sentence by sentence (one thread: the one queueing the sentences)."""

    def __init__(self, owner: LanguageTts, language: str, track: bool) -> None:
        self.owner, self.language, self.track = owner, language, track

    def prepare(self, sentence: str) -> tuple[str, str]:
        """``(text to speak, its language)``: a fixed phrase is translated, other text is detected."""
        if phrases.match(sentence) is not None:
            return phrases.localize(sentence, self.language), self.language
        if self.owner.follow:
            guess = detect(sentence)
            if guess.confident and guess.language != self.language:
                self.language = guess.language
            if self.track and guess.confident:
                self.owner.current = self.language
        return sentence, self.language


def make_voice(voice: Voice, tts: TtsConfig) -> Tts:
    """The synthesiser for ``voice``; a Piper model that cannot load falls back to espeak-ng if allowed."""
    from assistant.audio.tts import EspeakTts, PiperTts

    if voice.piper:
        try:
            return PiperTts(voice.piper)
        except AssistantError as err:
            if not tts.fallback:
                raise
            log.warning("%s; speaking %s with espeak-ng instead", err, NAMES.get(voice.language, voice.language))
    return EspeakTts(voice.espeak, tts.rate_wpm)


def reply_instruction(config: LanguageConfig) -> str:
    """The sentence added to the system prompt about the reply's language."""
    if config.reply == "fixed":
        return f"Always reply in {NAMES[config.default]}."
    return "Reply in the language the user speaks."


def with_language(system_prompt: str, config: LanguageConfig) -> str:
    """``system_prompt`` with the reply-language instruction (once)."""
    line = reply_instruction(config)
    return system_prompt if line in system_prompt else f"{system_prompt.rstrip()} {line}".strip()
