"""The clock in four languages: every phrase in en/de/fr/es with the same fields, times, dates and durations
as people say them, answers in the reply's language, and a ring spoken (by real espeak-ng) in the language
of the turn that set it."""

from __future__ import annotations

import re
import shutil
from datetime import datetime

import pytest

from assistant.clock.book import ClockBook
from assistant.clock.phrases import PHRASES, say, spoken_ago, time_sentence
from assistant.clock.ringer import Ringer
from assistant.clock.spoken import spoken_date, spoken_duration, spoken_time
from assistant.clock.store import ClockStore
from assistant.config.schema import LanguageConfig, TtsConfig
from assistant.language import phrases
from assistant.language.voices import LanguageTts
from assistant.service.speech import SpeechStream

from ..service.doubles import FakePlayer
from .conftest import ZONE
from .test_ringer import Mono

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def test_every_clock_phrase_exists_in_four_languages_with_the_same_fields():
    for pid, templates in PHRASES.items():
        assert set(templates) == set(phrases.LANGUAGES), pid
        fields = {lang: sorted(set(re.findall(r"\{(\w+)\}", t))) for lang, t in templates.items()}
        assert len({tuple(f) for f in fields.values()}) == 1, (pid, fields)
        assert phrases.PHRASES[pid] == templates, "one mechanism: the clock's table is in the language phrases"


def test_clock_phrases_never_catch_other_sentences():
    assert phrases.match("It's sunny.") is None  # "It's {time}." is not matched
    assert phrases.localize("Today is a good day.", "de") == "Today is a good day."


@pytest.mark.parametrize(("hour", "minute", "language", "spoken"), [
    (19, 20, "en", "It's twenty past seven."),
    (19, 20, "de", "Es ist zwanzig nach sieben."),
    (19, 20, "fr", "Il est sept heures vingt."),
    (19, 20, "es", "Son las siete y veinte."),
    (7, 30, "de", "Es ist halb acht."),
    (7, 25, "de", "Es ist fünf vor halb acht."),
    (7, 45, "de", "Es ist Viertel vor acht."),
    (13, 0, "de", "Es ist ein Uhr."),
    (7, 45, "fr", "Il est huit heures moins le quart."),
    (12, 30, "fr", "Il est midi et demi."),
    (1, 15, "fr", "Il est une heure et quart."),
    (13, 15, "es", "Es la una y cuarto."),
    (12, 45, "es", "Es la una menos cuarto."),
    (7, 0, "es", "Son las siete en punto."),
    (19, 23, "de", "Es ist 19 Uhr 23."),
    (19, 23, "fr", "Il est 19 heures 23."),
    (19, 23, "es", "Son las 7 y 23."),
])
def test_the_time_as_people_say_it(hour, minute, language, spoken):
    assert time_sentence(hour, minute, language, period=False) == spoken


def test_times_with_the_part_of_the_day_dates_and_durations():
    assert spoken_time(19, 20, language="de") == "zwanzig nach sieben abends"
    assert spoken_time(19, 20, language="fr") == "sept heures vingt du soir"
    assert spoken_time(7, 0, language="es") == "las siete en punto de la mañana"
    assert spoken_time(0, 0, language="de") == "Mitternacht" and spoken_time(12, 0, language="es") == "mediodía"
    assert time_sentence(0, 0, "es") == "Es medianoche."
    friday = datetime(2026, 12, 4)
    assert spoken_date(friday, "de") == "Freitag, der vierte Dezember"
    assert spoken_date(friday, "fr") == "vendredi 4 décembre"
    assert spoken_date(datetime(2026, 12, 1), "fr") == "mardi premier décembre"
    assert spoken_date(friday, "es") == "viernes, 4 de diciembre"
    assert spoken_duration(8 * 60 + 30, "de") == "8 Minuten und 30 Sekunden"
    assert spoken_duration(3600 + 60, "fr") == "une heure et une minute"
    assert spoken_duration(60 + 1, "es") == "un minuto y un segundo"
    assert say("timer_done_late", "de", name="pasta", ago=spoken_ago(3600, "de")) == \
        "Dein Pasta-Timer ist vor einer Stunde abgelaufen."


def test_the_book_answers_in_the_reply_language_and_rings_in_the_one_that_set_it(tmp_path, clock):
    book = ClockBook(ClockStore(tmp_path), clock, ZONE, max_items=5, synced=lambda: True, language="en")
    reply = ["de"]
    book.reply_language = lambda: reply[0]
    assert book.set_timer(8 * 60, "pasta") == "Pasta-Timer auf 8 Minuten gestellt."
    assert book.time_or_date("time") == "Es ist zwanzig nach sieben abends."
    assert book.time_or_date("date") == "Heute ist Freitag, der vierte Dezember."
    reply[0] = "es"
    assert book.set_timer(90) == "Temporizador puesto para un minuto y 30 segundos."
    assert book.add_alarm(6, 30, "weekdays") == "Alarma puesta para las seis y media de la mañana entre semana."
    reply[0] = "fr"
    assert book.left("pasta") == "Minuteur pasta : encore 8 minutes."
    assert book.cancel() == "Quel minuteur ? Il y en a 2 : un sans nom et pasta."
    again = ClockBook(ClockStore(tmp_path), clock, ZONE, language="en")  # the language is kept on disk
    assert [t.language for t in again.timers()] == ["es", "de"] and again.alarms()[0].language == "es"
    clock.advance(90)
    [ring] = again.due()
    assert ring.text == "Tu temporizador ha terminado." and ring.language == "es"
    clock.advance(8 * 60 - 90)
    [ring] = again.due()
    assert ring.text == "Dein Pasta-Timer ist abgelaufen." and ring.language == "de"


@needs_espeak
def test_a_timer_set_in_a_german_turn_rings_in_german_after_a_french_reply(tmp_path, clock):
    tts = LanguageTts(TtsConfig(), LanguageConfig())  # real espeak-ng voices, default English
    book = ClockBook(ClockStore(tmp_path), clock, ZONE, synced=lambda: True, language="en")
    book.reply_language = tts.reply_language  # as ``make_ringer`` wires it
    german = SpeechStream(tts)
    german.say("Ich habe den Timer für dich gestellt, er läuft jetzt.")  # the model's reply in a German turn
    german.end()
    list(german)
    assert book.set_timer(60, "pasta") == "Pasta-Timer auf eine Minute gestellt."
    french = SpeechStream(tts)  # a later turn in French
    french.say("La lumière de la cuisine est allumée.")
    french.end()
    list(french)
    assert tts.reply_language() == "fr"
    mono, player = Mono(), FakePlayer()
    ringer = Ringer(book, tts, player, 30.0, 2.0, mono=mono)
    clock.advance(60)
    mono.t += 1
    ringer.tick(True)
    player.wait(10.0)
    assert ringer.ringing
    assert tts.spoken[-1] == ("espeak:de", "Dein Pasta-Timer ist abgelaufen.")
    assert sum(len(c.samples) for c in player.played) > 22050 // 2, "the tone and real German speech were played"
