"""Which language a reply is in (en, de, fr, es): stopword and letter statistics, no dependencies.

The model hears the user and answers in the user's language (the system prompt asks it to), so
the language of its reply text is the language the user spoke. A sentence is scored by its common
function words and by letters only one language uses (ß, ñ, ç, ...); a short or mixed sentence
("OK.", "Kitchen light.") gives no confident answer, and the caller keeps the language it had.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LANGUAGES = ("en", "de", "fr", "es")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the a an and is are was it this that of to in on for with you your i i'm it's what how not "
                 "be have has do does can will would there here my me we they he she at by from or now"),
    "de": _words("der die das den dem des ein eine einen und ist sind war es dies das ich du sie wir ihr "
                 "nicht mit von zu im in auf für ist wie was wer ja nein noch schon jetzt bitte auch "
                 "hier da ihre dein mein habe hat kann wird gerne"),
    "fr": _words("le la les un une des et est sont était il elle je tu vous nous ils ce cette c'est de du "
                 "au aux en dans sur pour avec pas ne que qui quoi comment oui non bien très voici "
                 "votre mon ma mes suis"),
    "es": _words("el la los las un una unos y es son era está están yo tú usted nosotros ellos este esta "
                 "de del al en con por para no que qué cómo sí muy aquí su mi mis estoy hay lo le"),
}
LETTERS: dict[str, str] = {"de": "äöüß", "fr": "àâçèêëîïôœùû", "es": "ñ¿¡áíóú"}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


@dataclass(frozen=True)
class Guess:
    """The most likely language, its score and whether it is clearly ahead of the others."""

    language: str
    score: float
    confident: bool


def scores(text: str) -> dict[str, float]:
    """Per language: stopword hits plus letter hints (each unique letter counts 1)."""
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text.replace("’", "'"))]
    out = {lang: float(sum(w in STOPWORDS[lang] for w in words)) for lang in LANGUAGES}
    lowered = text.lower()
    for lang, letters in LETTERS.items():
        out[lang] += sum(1.0 for ch in set(lowered) if ch in letters)
    return out


def detect(text: str, min_score: float = 2.0) -> Guess:
    """The language of ``text``; ``confident`` when it scores ``min_score`` and leads by at least 1."""
    ranked = sorted(scores(text).items(), key=lambda kv: (-kv[1], LANGUAGES.index(kv[0])))
    (best, top), (_, second) = ranked[0], ranked[1]
    return Guess(best, top, top >= min_score and top - second >= 1.0)
