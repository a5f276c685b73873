"""Times, dates, durations and lists as people say them, in English, German, French and Spanish.

"twenty past seven" / "zwanzig nach sieben" / "sept heures vingt" / "las siete y veinte"; minutes
that are not a multiple of five as digits ("19 Uhr 23"), which espeak-ng reads well in each
language. Spanish carries its article ("las siete"), so ``is_singular`` tells the "It's" phrase
whether to say "Es la una" or "Son las siete". An unknown language is spoken in English.
"""

from __future__ import annotations

from datetime import datetime

HOURS = {
    "en": ("twelve", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven"),
    "de": ("zwölf", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn", "elf"),
    "fr": ("minuit", "une heure", "deux heures", "trois heures", "quatre heures", "cinq heures", "six heures",
           "sept heures", "huit heures", "neuf heures", "dix heures", "onze heures"),
    "es": ("doce", "una", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez", "once"),
}
FIVES = {  # minute -> word, for 5..30 (and 60 - minute "to" the hour)
    "en": {5: "five", 10: "ten", 15: "quarter", 20: "twenty", 25: "twenty-five", 30: "half"},
    "de": {5: "fünf", 10: "zehn", 15: "Viertel", 20: "zwanzig"},
    "fr": {5: "cinq", 10: "dix", 15: "et quart", 20: "vingt", 25: "vingt-cinq", 30: "et demie"},
    "es": {5: "cinco", 10: "diez", 15: "cuarto", 20: "veinte", 25: "veinticinco", 30: "media"},
}
PERIODS = {  # (before 3, morning, afternoon, evening, after 22)
    "en": ("at night", "in the morning", "in the afternoon", "in the evening", "at night"),
    "de": ("nachts", "morgens", "nachmittags", "abends", "nachts"),
    "fr": ("du matin", "du matin", "de l'après-midi", "du soir", "du soir"),
    "es": ("de la madrugada", "de la mañana", "de la tarde", "de la noche", "de la noche"),
}
WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"),
}
# (singular, plural, "one" for this unit) per unit, and the word joining the last item of a list
UNITS = {
    "en": {"hour": ("hour", "hours", "1"), "minute": ("minute", "minutes", "1"), "second": ("second", "seconds", "1")},
    "de": {"hour": ("Stunde", "Stunden", "eine"), "minute": ("Minute", "Minuten", "eine"),
           "second": ("Sekunde", "Sekunden", "eine")},
    "fr": {"hour": ("heure", "heures", "une"), "minute": ("minute", "minutes", "une"),
           "second": ("seconde", "secondes", "une")},
    "es": {"hour": ("hora", "horas", "una"), "minute": ("minuto", "minutos", "un"), "second": ("segundo", "segundos", "un")},
}
AND = {"en": "and", "de": "und", "fr": "et", "es": "y"}
_DE_ORDINALS = ("erste", "zweite", "dritte", "vierte", "fünfte", "sechste", "siebte", "achte", "neunte", "zehnte",
                "elfte", "zwölfte", "dreizehnte", "vierzehnte", "fünfzehnte", "sechzehnte", "siebzehnte", "achtzehnte",
                "neunzehnte", "zwanzigste", "einundzwanzigste", "zweiundzwanzigste", "dreiundzwanzigste",
                "vierundzwanzigste", "fünfundzwanzigste", "sechsundzwanzigste", "siebenundzwanzigste",
                "achtundzwanzigste", "neunundzwanzigste", "dreißigste", "einunddreißigste")


def _lang(language: str) -> str:
    return language if language in HOURS else "en"


def _period(hour: int, language: str) -> str:
    words = PERIODS[language]
    return words[0] if hour < 3 else words[1] if hour < 12 else words[2] if hour < 18 else words[3] if hour < 22 \
        else words[4]


def spoken_time(hour: int, minute: int, period: bool = True, language: str = "en") -> str:
    """The time of day in words: "twenty past seven in the evening", "zwanzig nach sieben abends",
    "sept heures vingt du soir", "las siete y veinte de la tarde"; ``period`` adds the part of the day."""
    language = _lang(language)
    return {"en": _english, "de": _german, "fr": _french, "es": _spanish}[language](hour, minute, period)


def _english(hour: int, minute: int, period: bool) -> str:
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    hours = HOURS["en"]
    if minute % 5:
        text = f"{hour % 12 or 12}:{minute:02d}"
    elif minute == 0:
        text = f"{hours[hour % 12]} o'clock"
    elif minute <= 30:
        text = f"{FIVES['en'][minute]} past {hours[hour % 12]}"
    else:
        text = f"{FIVES['en'][60 - minute]} to {hours[(hour + 1) % 12]}"
        hour = (hour + 1) % 24
    return f"{text} {_period(hour, 'en')}" if period else text


def _german(hour: int, minute: int, period: bool) -> str:
    if minute == 0 and hour == 0:
        return "Mitternacht"
    if minute % 5:
        return f"{hour} Uhr {minute}"  # "19 Uhr 23": the 24-hour clock, as German speakers read it
    hours, fives = HOURS["de"], FIVES["de"]
    nxt = hours[(hour + 1) % 12]
    if minute == 0:
        text = f"{'ein' if hour % 12 == 1 else hours[hour % 12]} Uhr"
    elif minute <= 20:
        text = f"{fives[minute]} nach {hours[hour % 12]}"
    elif minute < 30:
        text, hour = f"fünf vor halb {nxt}", hour + 1
    elif minute == 30:
        text, hour = f"halb {nxt}", hour + 1
    elif minute < 40:
        text, hour = f"fünf nach halb {nxt}", hour + 1
    else:
        text, hour = f"{fives[60 - minute]} vor {nxt}", hour + 1
    if hour % 24 == 12 and minute == 0:
        return "zwölf Uhr mittags"
    return f"{text} {_period(hour % 24, 'de')}" if period else text


def _french(hour: int, minute: int, period: bool) -> str:
    if minute % 5:
        return f"{hour} heures {minute}"  # "19 heures 23"

    def name(h: int) -> str:
        return "midi" if h % 24 == 12 else HOURS["fr"][h % 12] if h % 24 else "minuit"

    fives = FIVES["fr"]
    shown = hour
    if minute == 0:
        text = name(hour)
    elif minute <= 30:
        word = fives[minute]
        if minute == 30 and hour % 12 == 0:
            word = "et demi"  # midi et demi, minuit et demi
        text = f"{name(hour)} {word}"
    else:
        shown = hour + 1
        text = f"{name(shown)} moins {'le quart' if minute == 45 else fives[60 - minute]}"
    if not period or shown % 12 == 0:
        return text
    return f"{text} {_period(shown % 24, 'fr')}"


def _spanish(hour: int, minute: int, period: bool) -> str:
    if minute == 0 and hour in (0, 12):
        return "medianoche" if hour == 0 else "mediodía"
    hours, fives = HOURS["es"], FIVES["es"]
    shown = hour
    if minute % 5:
        text = f"{hour % 12 or 12} y {minute}"
    elif minute == 0:
        text = f"{hours[hour % 12]} en punto"
    elif minute <= 30:
        text = f"{hours[hour % 12]} y {fives[minute]}"
    else:
        shown = hour + 1
        text = f"{hours[shown % 12]} menos {fives[60 - minute]}"
    article = "la" if shown % 12 == 1 else "las"
    text = f"{article} {text}"
    return f"{text} {_period(shown % 24, 'es')}" if period else text


def is_singular(hour: int, minute: int, language: str) -> bool:
    """Whether "It's ..." takes the singular in ``language`` (Spanish "Es la una", "Es mediodía")."""
    if _lang(language) != "es":
        return False
    return (minute == 0 and hour in (0, 12)) or (hour + (minute > 30 and minute % 5 == 0)) % 12 == 1


def spoken_date(when: datetime, language: str = "en") -> str:
    """"Friday, the 4th of December", "Freitag, der vierte Dezember", "vendredi 4 décembre", "viernes, 4 de diciembre"."""
    language = _lang(language)
    day, weekday, month = when.day, WEEKDAYS[language][when.weekday()], MONTHS[language][when.month - 1]
    if language == "de":
        return f"{weekday}, der {_DE_ORDINALS[day - 1]} {month}"
    if language == "fr":
        return f"{weekday} {'premier' if day == 1 else day} {month}"
    if language == "es":
        return f"{weekday}, {day} de {month}"
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{weekday}, the {day}{suffix} of {month}"


def spoken_duration(seconds: float, language: str = "en") -> str:
    """"1 hour and 5 minutes", "8 Minuten und 30 Sekunden", "45 secondes", "una hora" (whole seconds)."""
    language = _lang(language)
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    units = UNITS[language]
    parts = []
    for n, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")):
        if n:
            one, many, one_word = units[unit]
            parts.append(f"{one_word} {one}" if n == 1 else f"{n} {many}")
    if hours and secs:  # "1 hour, 2 minutes and 3 seconds" is more than anyone wants to hear
        parts = parts[:2] if minutes else parts[:1]
    if not parts:
        return f"0 {units['second'][1]}"
    return spoken_list(parts, language)


def spoken_list(items: list[str], language: str = "en") -> str:
    """"a, b and c" with the language's "and"."""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {AND[_lang(language)]} " + items[-1]
