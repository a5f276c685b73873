"""The sentences the service speaks itself, in English, German, French and Spanish.

Each phrase has an id and one template per language; ``text(id, language, **values)`` renders it.
Device names are values and stay as discovered. Parts of the service that build their sentences
in English (the MQTT bus, the validator, the turn's fixed replies) are translated where speech is
queued: :func:`localize` recognises an English sentence by its template and renders the same
phrase in the reply's language; any other sentence passes unchanged. New parts (the timers' rings)
register their own phrases with :func:`register` and call :func:`text` directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

LANGUAGES = ("en", "de", "fr", "es")
PHRASES: dict[str, dict[str, str]] = {
    "done": {"en": "Done.", "de": "Erledigt.", "fr": "C'est fait.", "es": "Hecho."},
    "unreachable": {"en": "I can't reach the hub.", "de": "Ich erreiche die Zentrale nicht.",
                    "fr": "Je n'arrive pas à joindre la centrale.", "es": "No puedo conectar con la central."},
    "not_responding": {"en": "The {name} is not responding.", "de": "{name} antwortet nicht.",
                       "fr": "{name} ne répond pas.", "es": "{name} no responde."},
    "offline": {"en": "The {name} is offline.", "de": "{name} ist offline.", "fr": "{name} est hors ligne.",
                "es": "{name} está desconectado."},
    "nothing_to_confirm": {"en": "There is nothing to confirm.", "de": "Es gibt nichts zu bestätigen.",
                           "fr": "Il n'y a rien à confirmer.", "es": "No hay nada que confirmar."},
    "wont": {"en": "OK, I won't.", "de": "In Ordnung, ich mache es nicht.", "fr": "D'accord, je ne le fais pas.",
             "es": "De acuerdo, no lo haré."},
    "engine_failed": {"en": "Sorry, something went wrong.", "de": "Entschuldigung, etwas ist schiefgegangen.",
                      "fr": "Désolé, quelque chose s'est mal passé.", "es": "Lo siento, algo ha salido mal."},
    "not_understood": {"en": "Sorry, I did not understand that.", "de": "Entschuldigung, das habe ich nicht verstanden.",
                       "fr": "Désolé, je n'ai pas compris.", "es": "Lo siento, no lo he entendido."},
    "bus_failed": {"en": "Sorry, I could not reach the smart home.", "de": "Entschuldigung, ich erreiche das Smart Home nicht.",
                   "fr": "Désolé, je n'arrive pas à joindre la maison connectée.",
                   "es": "Lo siento, no puedo conectar con la casa inteligente."},
    "no_home": {"en": "The smart home is not connected.", "de": "Das Smart Home ist nicht verbunden.",
                "fr": "La maison connectée n'est pas reliée.", "es": "La casa inteligente no está conectada."},
    "command_not_understood": {"en": "Sorry, I didn't understand that command.",
                               "de": "Entschuldigung, diesen Befehl habe ich nicht verstanden.",
                               "fr": "Désolé, je n'ai pas compris cette commande.",
                               "es": "Lo siento, no he entendido esa orden."},
    "command_odd": {"en": "Sorry, that command had something I don't understand.",
                    "de": "Entschuldigung, in diesem Befehl war etwas, das ich nicht verstehe.",
                    "fr": "Désolé, cette commande contient quelque chose que je ne comprends pas.",
                    "es": "Lo siento, esa orden tenía algo que no entiendo."},
    "cant": {"en": "I can't do that.", "de": "Das kann ich nicht.", "fr": "Je ne peux pas faire ça.",
             "es": "No puedo hacer eso."},
    "no_such_device": {"en": "There is no device called {name}.", "de": "Es gibt kein Gerät namens {name}.",
                       "fr": "Il n'y a pas d'appareil appelé {name}.", "es": "No hay ningún dispositivo llamado {name}."},
    "device_cant": {"en": "The {name} can't do that.", "de": "{name} kann das nicht.", "fr": "{name} ne peut pas faire ça.",
                    "es": "{name} no puede hacer eso."},
    "cant_read": {"en": "I can't read the {name}.", "de": "Ich kann {name} nicht abfragen.", "fr": "Je ne peux pas lire {name}.",
                  "es": "No puedo leer {name}."},
    "state_unknown": {"en": "I don't know the state of the {name} yet.", "de": "Ich kenne den Zustand von {name} noch nicht.",
                      "fr": "Je ne connais pas encore l'état de {name}.", "es": "Todavía no sé el estado de {name}."},
    "on_at": {"en": "The {name} is on at {percent} percent.", "de": "{name} ist an, mit {percent} Prozent.",
              "fr": "{name} est allumé à {percent} pour cent.", "es": "{name} está encendido al {percent} por ciento."},
    "is_state": {"en": "The {name} is {state}.", "de": "{name} ist {state}.", "fr": "{name} est {state}.",
                 "es": "{name} está {state}."},
    "confirm": {"en": "Do you really want me to {action} the {name}?", "de": "Soll ich {name} wirklich {action}?",
                "fr": "Voulez-vous vraiment que je {action} {name} ?", "es": "¿De verdad quieres que {action} {name}?"},
    "expert_unreachable": {"en": "The expert is not reachable, so I will answer myself.",
                           "de": "Der Experte ist nicht erreichbar, also antworte ich selbst.",
                           "fr": "L'expert n'est pas joignable, je vais donc répondre moi-même.",
                           "es": "El experto no está disponible, así que responderé yo."},
    "volume_set": {"en": "The volume is now {percent} percent.", "de": "Die Lautstärke ist jetzt {percent} Prozent.",
                   "fr": "Le volume est maintenant à {percent} pour cent.",
                   "es": "El volumen está ahora al {percent} por ciento."},
    "volume_max": {"en": "The volume is already at its maximum.", "de": "Die Lautstärke ist schon am Maximum.",
                   "fr": "Le volume est déjà au maximum.", "es": "El volumen ya está al máximo."},
    "volume_min": {"en": "The volume is already at its minimum.", "de": "Die Lautstärke ist schon am Minimum.",
                   "fr": "Le volume est déjà au minimum.", "es": "El volumen ya está al mínimo."},
    "volume_bad": {"en": "Sorry, I can't set the volume to that.",
                   "de": "Entschuldigung, auf diesen Wert kann ich die Lautstärke nicht stellen.",
                   "fr": "Désolé, je ne peux pas régler le volume à cette valeur.",
                   "es": "Lo siento, no puedo poner el volumen en ese valor."},
}
# Values that are words of the phrase, translated with it (English value -> per language).
WORDS: dict[str, dict[str, dict[str, str]]] = {
    "state": {
        "on": {"de": "an", "fr": "allumé", "es": "encendido"},
        "off": {"de": "aus", "fr": "éteint", "es": "apagado"},
        "locked": {"de": "abgeschlossen", "fr": "verrouillé", "es": "cerrado con llave"},
        "unlocked": {"de": "aufgeschlossen", "fr": "déverrouillé", "es": "abierto"},
        "open": {"de": "offen", "fr": "ouvert", "es": "abierto"},
        "closed": {"de": "geschlossen", "fr": "fermé", "es": "cerrado"},
    },
    "action": {
        "lock": {"de": "abschließen", "fr": "verrouille", "es": "cierre con llave"},
        "unlock": {"de": "aufschließen", "fr": "déverrouille", "es": "abra"},
        "open": {"de": "öffnen", "fr": "ouvre", "es": "abra"},
        "close": {"de": "schließen", "fr": "ferme", "es": "cierre"},
        "disarm": {"de": "unscharf schalten", "fr": "désarme", "es": "desarme"},
        "turn on": {"de": "einschalten", "fr": "allume", "es": "encienda"},
        "turn off": {"de": "ausschalten", "fr": "éteigne", "es": "apague"},
    },
}
_VALUE = {"percent": r"\d+(?:\.\d+)?", "name": r".+?"}
_patterns: list[tuple[str, re.Pattern[str]]] = []
_unmatched: set[str] = set()  # phrases their owner renders in the right language itself: never matched


def register(phrases: Mapping[str, Mapping[str, str]], match: bool = True) -> None:
    """Add phrases (id -> {language: template}); every one needs at least English. With ``match=False``
    their English sentences are not recognised by :func:`match` (the owner renders each language itself,
    and a broad template such as "It's {time}." must not catch other sentences)."""
    for pid, templates in phrases.items():
        if "en" not in templates:
            raise ValueError(f"phrase {pid!r} has no English template")
        PHRASES[pid] = dict(templates)
        if not match:
            _unmatched.add(pid)
    _patterns.clear()


def text(pid: str, language: str = "en", **values: object) -> str:
    """Phrase ``pid`` in ``language`` (English when that language has no template), with ``values``."""
    templates = PHRASES[pid]
    template = templates.get(language) or templates["en"]
    lang = language if language in templates else "en"
    words = {k: WORDS.get(k, {}).get(str(v), {}).get(lang, str(v)) for k, v in values.items()}
    return template.format(**words)


def match(sentence: str) -> tuple[str, dict[str, str]] | None:
    """``(id, values)`` when ``sentence`` is one of the English phrases, else None."""
    if not _patterns:
        _patterns.extend((pid, _compile(t["en"])) for pid, t in PHRASES.items() if pid not in _unmatched)
    for pid, pattern in _patterns:
        found = pattern.fullmatch(sentence.strip())
        if found:
            return pid, found.groupdict()
    return None


def localize(sentence: str, language: str) -> str:
    """``sentence`` in ``language`` when it is a known English phrase; otherwise unchanged."""
    if language == "en":
        return sentence
    found = match(sentence)
    return text(found[0], language, **found[1]) if found else sentence


def _compile(template: str) -> re.Pattern[str]:
    out, pos = [], 0
    for field in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos:field.start()]))
        key = field.group(1)
        words = WORDS.get(key)
        value = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) if words else _VALUE.get(key, r".+?")
        out.append(f"(?P<{key}>{value})")
        pos = field.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))
