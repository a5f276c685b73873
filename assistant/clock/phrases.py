"""Everything the timers, alarms and the clock say, in English, German, French and Spanish.

The table joins the service's fixed phrases (``assistant.language.phrases``, one mechanism): each id
has a template per language with the same fields, and ``say(id, language, **fields)`` renders it.
The clock renders its sentences in the right language itself (the reply's language when a tool
runs, the language stored with a timer when it rings), so these templates are registered without
English matching. ``name`` also gives ``timer`` ("pasta timer", "Pasta-Timer", "minuteur pasta",
"temporizador de pasta") and ``timer_cap``. Times, dates and durations are in ``spoken.py``.
"""

from __future__ import annotations

from assistant.clock.spoken import is_singular, spoken_date, spoken_duration, spoken_list, spoken_time
from assistant.language import phrases

__all__ = ["PHRASES", "say", "spoken_ago", "spoken_date", "spoken_duration", "spoken_list", "spoken_time",
           "time_sentence"]

PHRASES: dict[str, dict[str, str]] = {
    # timers
    "timer_set": {"en": "{timer_cap} set for {duration}.", "de": "{timer_cap} auf {duration} gestellt.",
                  "fr": "{timer_cap} réglé sur {duration}.", "es": "{timer_cap} puesto para {duration}."},
    "timer_left": {"en": "{timer_cap}: {left} left.", "de": "{timer_cap}: noch {left}.",
                   "fr": "{timer_cap} : encore {left}.", "es": "{timer_cap}: quedan {left}."},
    "timer_none": {"en": "There are no timers.", "de": "Es läuft kein Timer.", "fr": "Il n'y a aucun minuteur.",
                   "es": "No hay ningún temporizador."},
    "timer_not_found": {"en": "There is no {timer}.", "de": "Es gibt keinen {timer}.", "fr": "Il n'y a pas de {timer}.",
                        "es": "No hay ningún {timer}."},
    "timer_list": {"en": "{count} timers: {items}.", "de": "{count} Timer: {items}.",
                   "fr": "{count} minuteurs : {items}.", "es": "{count} temporizadores: {items}."},
    "timer_item": {"en": "{name} with {left} left", "de": "{name} mit noch {left}", "fr": "{name} avec encore {left}",
                   "es": "{name} con {left} por delante"},
    "timer_unnamed": {"en": "one", "de": "einer", "fr": "un", "es": "uno"},
    "timer_unnamed_which": {"en": "one without a name", "de": "einer ohne Namen", "fr": "un sans nom",
                            "es": "uno sin nombre"},
    "timer_cancelled": {"en": "{timer_cap} cancelled.", "de": "{timer_cap} gelöscht.", "fr": "{timer_cap} annulé.",
                        "es": "{timer_cap} cancelado."},
    "timer_all_cancelled": {"en": "All timers cancelled.", "de": "Alle Timer gelöscht.",
                            "fr": "Tous les minuteurs sont annulés.", "es": "Todos los temporizadores cancelados."},
    "timer_changed": {"en": "{timer_cap} now has {left} left.", "de": "{timer_cap} läuft jetzt noch {left}.",
                      "fr": "{timer_cap} : il reste maintenant {left}.", "es": "{timer_cap}: ahora quedan {left}."},
    "timer_too_many": {"en": "Sorry, I can only keep {limit} timers and alarms at once.",
                       "de": "Entschuldigung, ich kann nur {limit} Timer und Wecker gleichzeitig haben.",
                       "fr": "Désolé, je ne peux garder que {limit} minuteurs et réveils à la fois.",
                       "es": "Lo siento, solo puedo tener {limit} temporizadores y alarmas a la vez."},
    "timer_zero": {"en": "Sorry, how long should the timer run?", "de": "Entschuldigung, wie lange soll der Timer laufen?",
                   "fr": "Désolé, combien de temps doit durer le minuteur ?",
                   "es": "Perdona, ¿cuánto tiempo debe durar el temporizador?"},
    "timer_which": {"en": "Which timer? There are {count}: {names}.", "de": "Welcher Timer? Es gibt {count}: {names}.",
                    "fr": "Quel minuteur ? Il y en a {count} : {names}.", "es": "¿Qué temporizador? Hay {count}: {names}."},
    "timer_done": {"en": "Your {timer} is done.", "de": "Dein {timer} ist abgelaufen.", "fr": "Votre {timer} est terminé.",
                   "es": "Tu {timer} ha terminado."},
    "timer_done_late": {"en": "Your {timer} ended {ago} ago.", "de": "Dein {timer} ist vor {ago} abgelaufen.",
                        "fr": "Votre {timer} s'est terminé il y a {ago}.", "es": "Tu {timer} terminó hace {ago}."},
    "timer_refused": {"en": "Sorry, I can't do that with a timer.",
                      "de": "Entschuldigung, das kann ich mit einem Timer nicht machen.",
                      "fr": "Désolé, je ne peux pas faire ça avec un minuteur.",
                      "es": "Lo siento, no puedo hacer eso con un temporizador."},
    # alarms
    "alarm_set": {"en": "Alarm set for {time}{repeat}.", "de": "Wecker für {time}{repeat} gestellt.",
                  "fr": "Réveil réglé pour {time}{repeat}.", "es": "Alarma puesta para {time}{repeat}."},
    "alarm_none": {"en": "There are no alarms.", "de": "Es ist kein Wecker gestellt.", "fr": "Il n'y a aucun réveil.",
                   "es": "No hay ninguna alarma."},
    "alarm_list": {"en": "Alarms: {items}.", "de": "Wecker: {items}.", "fr": "Réveils : {items}.",
                   "es": "Alarmas: {items}."},
    "alarm_cancelled": {"en": "Alarm for {time} cancelled.", "de": "Wecker für {time} gelöscht.",
                        "fr": "Réveil de {time} annulé.", "es": "Alarma de {time} cancelada."},
    "alarm_all_cancelled": {"en": "All alarms cancelled.", "de": "Alle Wecker gelöscht.",
                            "fr": "Tous les réveils sont annulés.", "es": "Todas las alarmas canceladas."},
    "alarm_not_found": {"en": "There is no alarm for {time}.", "de": "Es gibt keinen Wecker für {time}.",
                        "fr": "Il n'y a pas de réveil à {time}.", "es": "No hay ninguna alarma para {time}."},
    "alarm_unsynced": {"en": "Sorry, I can't set an alarm: my clock is not synchronised, so it may be wrong.",
                       "de": "Entschuldigung, ich kann keinen Wecker stellen: meine Uhr ist nicht synchronisiert "
                             "und geht vielleicht falsch.",
                       "fr": "Désolé, je ne peux pas régler de réveil : mon horloge n'est pas synchronisée, "
                             "elle peut être fausse.",
                       "es": "Lo siento, no puedo poner una alarma: mi reloj no está sincronizado y puede estar mal."},
    "alarm_ring": {"en": "{now} Time to wake up.", "de": "{now} Zeit aufzustehen.", "fr": "{now} C'est l'heure de se lever.",
                   "es": "{now} Hora de levantarse."},
    "alarm_ring_late": {"en": "Your alarm for {time} went off {ago} ago.",
                        "de": "Dein Wecker für {time} hat vor {ago} geklingelt.",
                        "fr": "Votre réveil de {time} a sonné il y a {ago}.", "es": "Tu alarma de {time} sonó hace {ago}."},
    # the clock ("It's ..."; Spanish: "Son las siete", but "Es la una")
    "time_now": {"en": "It's {time}.", "de": "Es ist {time}.", "fr": "Il est {time}.", "es": "Son {time}."},
    "time_now_one": {"en": "It's {time}.", "de": "Es ist {time}.", "fr": "Il est {time}.", "es": "Es {time}."},
    "date_today": {"en": "Today is {date}.", "de": "Heute ist {date}.", "fr": "Nous sommes le {date}.",
                   "es": "Hoy es {date}."},
    # repeat names
    "repeat_once": {"en": "", "de": "", "fr": "", "es": ""},
    "repeat_daily": {"en": " every day", "de": " jeden Tag", "fr": " tous les jours", "es": " todos los días"},
    "repeat_weekdays": {"en": " on weekdays", "de": " werktags", "fr": " en semaine", "es": " entre semana"},
    "repeat_weekends": {"en": " at weekends", "de": " am Wochenende", "fr": " le week-end", "es": " los fines de semana"},
}
phrases.register(PHRASES, match=False)

_TIMER = {"en": ("{name} timer", "timer"), "de": ("{Name}-Timer", "Timer"), "fr": ("minuteur {name}", "minuteur"),
          "es": ("temporizador de {name}", "temporizador")}


def say(phrase_id: str, language: str = "en", **fields: object) -> str:
    """The phrase ``phrase_id`` in ``language`` with ``fields``; ``name`` also gives ``timer`` and ``timer_cap``."""
    if "name" in fields:
        name = str(fields["name"] or "")
        named, bare = _TIMER.get(language, _TIMER["en"])
        timer = named.format(name=name, Name=name[:1].upper() + name[1:]) if name else bare
        fields.setdefault("timer", timer)
        fields.setdefault("timer_cap", timer[:1].upper() + timer[1:])
    return phrases.text(phrase_id, language, **fields)


def time_sentence(hour: int, minute: int, language: str = "en", period: bool = True) -> str:
    """"It's twenty past seven in the evening.", "Es ist zwanzig nach sieben abends.", "Es la una y cuarto ..."."""
    pid = "time_now_one" if is_singular(hour, minute, language) else "time_now"
    return say(pid, language, time=spoken_time(hour, minute, period, language))


def spoken_ago(seconds: float, language: str = "en") -> str:
    """A duration after "ago" ("vor einer Stunde": German takes the dative)."""
    text = spoken_duration(seconds, language)
    return text.replace("eine ", "einer ") if language == "de" else text
