"""Languages: the reply's language detected from its text, fixed phrases in four languages, and the
espeak-ng voice of each language actually speaking (real espeak-ng, the voice recorded per sentence)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from assistant.config.schema import LanguageConfig, TtsConfig, VoiceConfig
from assistant.language import phrases
from assistant.language.detect import detect
from assistant.language.voices import LanguageTts, Voice, voice_for, with_language
from assistant.protocols import AudioChunk
from assistant.service.speech import SpeechStream

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

REPLIES = {
    "en": ["The kitchen light is on and the door is locked.", "It is sunny today, with a light wind from the west.",
           "I have set the heating to twenty degrees for you."],
    "de": ["Das Licht in der Küche ist jetzt an.", "Es ist heute sonnig, mit einem leichten Wind aus dem Westen.",
           "Ich habe die Heizung für dich auf zwanzig Grad gestellt."],
    "fr": ["La lumière de la cuisine est allumée.", "Il fait beau aujourd'hui, avec un vent léger de l'ouest.",
           "J'ai réglé le chauffage sur vingt degrés pour vous."],
    "es": ["La luz de la cocina está encendida.", "Hoy hace sol, con un viento suave del oeste.",
           "He puesto la calefacción a veinte grados para ti."],
}


@pytest.mark.parametrize("language", list(REPLIES))
def test_replies_are_detected_in_their_language(language):
    for sentence in REPLIES[language]:
        guess = detect(sentence)
        assert guess.language == language and guess.confident, (sentence, guess)


@pytest.mark.parametrize("sentence", ["OK.", "Kitchen light.", "20 degrees.", "Hmm", ""])
def test_short_or_wordless_sentences_are_not_confident(sentence):
    assert not detect(sentence).confident


@pytest.mark.parametrize(("english", "language", "spoken"), [
    ("Done.", "de", "Erledigt."),
    ("Done.", "fr", "C'est fait."),
    ("Done.", "es", "Hecho."),
    ("Done.", "en", "Done."),
    ("The Küchenlicht is not responding.", "de", "Küchenlicht antwortet nicht."),
    ("The attic fan is off.", "fr", "attic fan est éteint."),
    ("The Luz cocina is on at 40 percent.", "es", "Luz cocina está encendido al 40 por ciento."),
    ("Do you really want me to unlock the Front door?", "de", "Soll ich Front door wirklich aufschließen?"),
    ("There is no device called garden shed.", "fr", "Il n'y a pas d'appareil appelé garden shed."),
    ("Sorry, something went wrong.", "es", "Lo siento, algo ha salido mal."),
    ("The volume is now 40 percent.", "de", "Die Lautstärke ist jetzt 40 Prozent."),
    ("The model said something else entirely.", "de", "The model said something else entirely."),
])
def test_fixed_phrases_are_translated_and_device_names_stay_as_discovered(english, language, spoken):
    assert phrases.localize(english, language) == spoken


def test_every_phrase_exists_in_four_languages_with_the_same_values():
    import re

    for pid, templates in phrases.PHRASES.items():
        assert set(phrases.LANGUAGES) <= set(templates), pid
        fields = {lang: sorted(re.findall(r"\{(\w+)\}", t)) for lang, t in templates.items()}
        assert len({tuple(f) for f in fields.values()}) == 1, pid


def test_other_parts_register_their_own_phrases():
    phrases.register({"test_ring": {"en": "Your {name} timer is done.", "de": "Dein Timer {name} ist abgelaufen."}})
    assert phrases.text("test_ring", "de", name="Pasta") == "Dein Timer Pasta ist abgelaufen."
    assert phrases.text("test_ring", "fr", name="Pasta") == "Your Pasta timer is done."  # English when missing
    assert phrases.localize("Your pasta timer is done.", "de") == "Dein Timer pasta ist abgelaufen."
    with pytest.raises(ValueError):
        phrases.register({"no_english": {"de": "x"}})


def test_voices_come_from_config_then_the_tts_voice_then_espeak_ng():
    tts = TtsConfig(voice="en-gb")
    config = LanguageConfig(voices=(VoiceConfig(language="fr", espeak_voice="fr-be"),
                                    VoiceConfig(language="es", piper_model="/voices/es.onnx")))
    assert voice_for("en", tts, config) == Voice("en", "en-gb")
    assert voice_for("de", tts, config) == Voice("de", "de")
    assert voice_for("fr", tts, config) == Voice("fr", "fr-be")
    assert voice_for("es", tts, config).name == "piper:/voices/es.onnx"
    piper = TtsConfig(engine="piper", piper_model="/voices/de.onnx")
    assert voice_for("de", piper, LanguageConfig(default="de")).piper == "/voices/de.onnx"


def test_the_system_prompt_asks_for_the_users_language_or_the_fixed_one():
    assert with_language("Be brief.", LanguageConfig()) == "Be brief. Reply in the language the user speaks."
    assert with_language("Be brief.", LanguageConfig(default="es", reply="fixed")) == "Be brief. Always reply in Spanish."
    once = with_language("Be brief.", LanguageConfig())
    assert with_language(once, LanguageConfig()) == once


def _audio(stream) -> np.ndarray:
    chunks: list[AudioChunk] = list(stream)
    return np.concatenate([c.samples for c in chunks]) if chunks else np.zeros(0, np.int16)


@needs_espeak
@pytest.mark.parametrize("language", list(REPLIES))
def test_a_reply_is_spoken_by_its_languages_espeak_voice_and_fixed_phrases_follow_it(language):
    tts = LanguageTts(TtsConfig(), LanguageConfig())
    stream = SpeechStream(tts)
    stream.say(REPLIES[language][0])
    stream.say("Done.")  # the bus's result, in English
    stream.end()
    audio = _audio(stream)
    voice = {"en": "espeak:en-us", "de": "espeak:de", "fr": "espeak:fr-fr", "es": "espeak:es"}[language]
    expected_done = phrases.text("done", language)
    assert list(tts.spoken) == [(voice, REPLIES[language][0]), (voice, expected_done)]
    assert stream.sentences == [REPLIES[language][0], expected_done]
    assert len(audio) > 22050 * 0.5 and np.abs(audio.astype(np.int32)).max() > 1000, "real speech came out"


@needs_espeak
def test_the_reply_language_carries_over_to_a_reply_with_only_a_tool_result():
    tts = LanguageTts(TtsConfig(), LanguageConfig())
    first = SpeechStream(tts)
    first.say(REPLIES["fr"][1])
    first.end()
    _audio(first)
    second = SpeechStream(tts)  # the next turn: the model only called a tool
    second.say("The kitchen light is on.")
    second.end()
    assert _audio(second).size > 0
    assert tts.spoken[-1] == ("espeak:fr-fr", "kitchen light est allumé.")


@needs_espeak
def test_a_fixed_reply_language_never_switches_voice():
    tts = LanguageTts(TtsConfig(), LanguageConfig(default="de", reply="fixed"))
    stream = SpeechStream(tts)
    stream.say(REPLIES["en"][0])
    stream.say("Done.")
    stream.end()
    _audio(stream)
    assert [v for v, _ in tts.spoken] == ["espeak:de", "espeak:de"] and tts.spoken[-1][1] == "Erledigt."


@needs_espeak
def test_a_piper_voice_per_language_from_config_and_espeak_for_the_others(tmp_path):
    pytest.importorskip("piper")
    pytest.importorskip("onnx")
    from ..audio.tiny_piper import HOP, write_tiny_voice

    model = str(write_tiny_voice(tmp_path))
    tts = LanguageTts(TtsConfig(), LanguageConfig(voices=(VoiceConfig(language="de", piper_model=model),)))
    stream = SpeechStream(tts)
    stream.say(REPLIES["de"][1])
    stream.say(REPLIES["en"][1])
    stream.end()
    chunks = list(stream)
    assert [v for v, _ in tts.spoken] == [f"piper:{model}", "espeak:en-us"]
    assert chunks[0].sample_rate == 16000 and len(chunks[0].samples) % HOP == 0  # the (tiny) Piper voice
    assert chunks[-1].sample_rate == 22050  # espeak-ng


def test_a_piper_voice_that_cannot_load_falls_back_to_espeak_ng(tmp_path, caplog):
    config = LanguageConfig(voices=(VoiceConfig(language="es", piper_model=str(tmp_path / "missing.onnx")),))
    voice, tts = LanguageTts(TtsConfig(), config).voice("es")
    assert voice.piper and type(tts).__name__ == "EspeakTts" and "speaking Spanish with espeak-ng" in caplog.text
