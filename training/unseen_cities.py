"""A harder ATIS dev variant whose city names were never seen in training.

ATIS reuses a few dozen US cities, so a tagger can score well by memorizing names. Replacing every
city span in dev with a real city absent from train shows whether the model reads the context
("leave X" vs "arrive in X") instead. Build it from the dev split only; test stays untouched:

    cities = unseen_city_names(read_split(atis, "train"))
    unseen_dev = replace_cities(read_split(atis, "dev"), cities)
"""

from __future__ import annotations

import random
from dataclasses import replace

from training.readers import Sentence

# Real cities, lower-cased and space-separated like ATIS tokens. A few share words with ATIS
# ("city", "new", "town"); unseen_city_names removes those for whatever train set it is given.
CITIES: tuple[str, ...] = (
    "aarhus", "abu dhabi", "accra", "addis ababa", "adelaide", "algiers", "almaty", "amman", "ankara",
    "antalya", "asuncion", "auckland", "baghdad", "baku", "bamako", "bandung", "beirut", "belgrade", "bergen",
    "bilbao", "bishkek", "bologna", "bordeaux", "bratislava", "brisbane", "brno", "bucharest", "budapest",
    "buenos aires", "busan", "cape town", "caracas", "casablanca", "cebu", "chengdu", "chiang mai", "chisinau",
    "chongqing", "colombo", "copenhagen", "curitiba", "da nang", "dakar", "damascus", "dar es salaam", "davao",
    "dhaka", "doha", "dresden", "durban", "fortaleza", "gdansk", "geneva", "gothenburg", "graz", "guadalajara",
    "hamburg", "hangzhou", "hanoi", "harare", "harbin", "helsinki", "ho chi minh city", "hobart", "hong kong",
    "isfahan", "islamabad", "izmir", "jeddah", "johannesburg", "kabul", "kampala", "kaohsiung", "karachi",
    "kathmandu", "khartoum", "kigali", "kinshasa", "kota kinabalu", "krakow", "kuala lumpur", "kunming",
    "kuwait city", "kyiv", "lagos", "lahore", "leipzig", "lhasa", "lisbon", "ljubljana", "luanda", "lusaka",
    "lviv", "lyon", "manama", "manaus", "mandalay", "maputo", "marrakesh", "marseille", "medellin",
    "mexico city", "minsk", "mombasa", "monterrey", "montevideo", "muscat", "nagoya", "nairobi", "nanjing",
    "naples", "new delhi", "nicosia", "oaxaca", "odesa", "osaka", "oslo", "palermo", "perth", "phnom penh",
    "podgorica", "port moresby", "porto", "porto alegre", "prague", "pyongyang", "quito", "recife", "reykjavik",
    "riga", "rio de janeiro", "riyadh", "salzburg", "santa cruz", "sao paulo", "sapporo", "sarajevo", "seville",
    "shenzhen", "shiraz", "skopje", "stockholm", "stuttgart", "surabaya", "taipei", "tallinn", "tampere",
    "tashkent", "tbilisi", "tegucigalpa", "tehran", "tel aviv", "thimphu", "tirana", "toulouse", "tunis",
    "turin", "ulaanbaatar", "valencia", "valletta", "vientiane", "vilnius", "wellington", "windhoek", "wroclaw",
    "wuhan", "xiamen", "yangon", "yerevan", "zagreb", "zurich",
)
_CITY_SLOT_SUFFIX = "city_name"


def unseen_city_names(train: list[Sentence]) -> list[str]:
    """Return the cities none of whose words occur anywhere in train.

    Filtering word by word (not whole names) also keeps out partial leaks such as the "new" of
    "new delhi", which a model could have learned as a city start from "new york".
    """
    seen = {token for sentence in train for token in sentence.tokens}
    return [city for city in CITIES if seen.isdisjoint(city.split())]


def replace_cities(sentences: list[Sentence], cities: list[str], seed: int = 0) -> list[Sentence]:
    """Replace every city span (B-/I- tags of a slot ending in `city_name`) with a random city from `cities`.

    Deterministic for a given seed so reported scores are reproducible; intents stay unchanged.
    """
    if not cities:
        raise ValueError("no replacement cities given")
    rng = random.Random(seed)
    return [_replace_in_sentence(sentence, cities, rng) for sentence in sentences]


def _replace_in_sentence(sentence: Sentence, cities: list[str], rng: random.Random) -> Sentence:
    if sentence.slots is None:
        raise ValueError(f"sentence has no slot tags: {' '.join(sentence.tokens)!r}")
    tags = sentence.slots
    tokens: list[str] = []
    slots: list[str] = []
    position = 0
    while position < len(tags):
        slot = tags[position][2:]  # "" for "O"
        if not slot.endswith(_CITY_SLOT_SUFFIX):
            tokens.append(sentence.tokens[position])
            slots.append(tags[position])
            position += 1
            continue
        # A span is this tag plus the I- tags of the same slot after it; a stray I- starts its own span.
        position += 1
        while position < len(tags) and tags[position] == f"I-{slot}":
            position += 1
        words = rng.choice(cities).split()
        tokens.extend(words)
        slots.extend([f"B-{slot}"] + [f"I-{slot}"] * (len(words) - 1))
    return replace(sentence, tokens=tuple(tokens), slots=tuple(slots))


def unseen_city_dev(train: list[Sentence], dev: list[Sentence]) -> list[Sentence]:
    """The unseen-city dev variant every report scores: dev's cities replaced, with seed 0, by
    cities no word of which occurs in train."""
    return replace_cities(dev, unseen_city_names(train), seed=0)
