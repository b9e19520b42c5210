"""The offline sample generator: used when no Claude API key is set, so the product can be tried
with no account anywhere.

It writes a plausible post from templates — deterministic for the same topic, tone and language,
varied across them — in English, German, French or Spanish, fitted to the platform's limit, and
streams it word by word so the live preview behaves as it does with Claude. Every post it
returns is marked `sample=True` and the page labels it as such: no AI is involved.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator

from postforge.ai.base import (
    Finished,
    GenerationEvent,
    GenerationRequest,
    Progress,
    validate_output,
)
from postforge.ai.prompts import text_budget

NAME = "offline"
WORD_DELAY_SECONDS = 0.04
TOPIC_IN_TEXT_MAX = 90

# Per language: openers and closers per tone, bodies shared by every tone. {topic} is the topic.
TEMPLATES: dict[str, dict[str, dict[str, list[str]] | list[str]]] = {
    "en": {
        "openers": {
            "Professional": ["Here is what matters about {topic}.", "A closer look at {topic}."],
            "Witty": ["{topic}: yes, we went there.", "Plot twist: {topic} is more fun than it sounds."],
            "Casual": ["So, let's talk about {topic} for a sec.", "Been thinking about {topic} lately."],
            "Urgent": ["Don't miss this: {topic}.", "Heads up — {topic} can't wait."],
            "Inspirational": [
                "Every big change starts small, and {topic} is proof.",
                "Imagine what {topic} makes possible.",
            ],
        },
        "bodies": [
            "The teams that get it right start with one clear goal and build from there.",
            "Small, steady steps beat big promises, and the results show it.",
            "The best part is how quickly you can start, with what you already have.",
        ],
        "closers": {
            "Professional": [
                "What is your experience? Share it below.",
                "Worth a conversation with your team.",
            ],
            "Witty": ["Your move. 😉", "Tell us we're wrong. We'll wait."],
            "Casual": ["What do you think? 👇", "Curious what you'd add!"],
            "Urgent": ["Act today, not someday.", "Time is short: start now."],
            "Inspirational": [
                "Your next step can be the one that counts. ✨",
                "Start today; future you will thank you.",
            ],
        },
        "reasons": [
            "Your audience is online and ready to read before the working day fills up.",
            "Engagement peaks when people take their mid-week break.",
            "People scroll more slowly then and have time to respond.",
        ],
    },
    "de": {
        "openers": {
            "Professional": ["Das Wichtigste zu {topic}.", "Ein genauer Blick auf {topic}."],
            "Witty": ["{topic}: Ja, wirklich.", "Überraschung: {topic} macht mehr Spaß, als man denkt."],
            "Casual": ["Lass uns kurz über {topic} reden.", "{topic} geht mir nicht aus dem Kopf."],
            "Urgent": ["Nicht verpassen: {topic}.", "Achtung — {topic} kann nicht warten."],
            "Inspirational": [
                "Große Veränderungen beginnen klein, {topic} zeigt es.",
                "Stell dir vor, was {topic} möglich macht.",
            ],
        },
        "bodies": [
            "Wer es richtig macht, beginnt mit einem klaren Ziel und baut darauf auf.",
            "Kleine, stetige Schritte schlagen große Versprechen, und man sieht es.",
            "Das Beste: Du kannst sofort anfangen, mit dem, was du schon hast.",
        ],
        "closers": {
            "Professional": [
                "Welche Erfahrungen hast du gemacht? Schreib sie in die Kommentare.",
                "Ein gutes Thema für dein Team.",
            ],
            "Witty": ["Du bist dran. 😉", "Sag uns, dass wir falschliegen. Wir warten."],
            "Casual": ["Was meinst du? 👇", "Was würdest du ergänzen?"],
            "Urgent": ["Handle heute, nicht irgendwann.", "Die Zeit drängt: Fang jetzt an."],
            "Inspirational": [
                "Dein nächster Schritt kann der entscheidende sein. ✨",
                "Fang heute an; du wirst es dir danken.",
            ],
        },
        "reasons": [
            "Deine Zielgruppe liest dann, bevor der Arbeitstag voll wird.",
            "Zur Wochenmitte ist die Interaktion in der Pause am höchsten.",
            "Dann scrollen die Leute langsamer und haben Zeit zu antworten.",
        ],
    },
    "fr": {
        "openers": {
            "Professional": ["L'essentiel sur {topic}.", "Un regard attentif sur {topic}."],
            "Witty": ["{topic} : oui, on ose.", "Rebondissement : {topic} est plus drôle qu'il n'y paraît."],
            "Casual": ["Parlons un instant de {topic}.", "Je pense beaucoup à {topic} en ce moment."],
            "Urgent": ["À ne pas manquer : {topic}.", "Attention : {topic} n'attend pas."],
            "Inspirational": [
                "Les grands changements commencent petit, {topic} le prouve.",
                "Imaginez ce que {topic} rend possible.",
            ],
        },
        "bodies": [
            "Les équipes qui réussissent partent d'un objectif clair et avancent pas à pas.",
            "De petits pas réguliers valent mieux que de grandes promesses.",
            "Le meilleur : vous pouvez commencer tout de suite, avec ce que vous avez déjà.",
        ],
        "closers": {
            "Professional": [
                "Quelle est votre expérience ? Partagez-la en commentaire.",
                "Un bon sujet à aborder avec votre équipe.",
            ],
            "Witty": ["À vous de jouer. 😉", "Dites-nous qu'on a tort. On attend."],
            "Casual": ["Vous en pensez quoi ? 👇", "Qu'est-ce que vous ajouteriez ?"],
            "Urgent": ["Agissez aujourd'hui, pas un jour.", "Le temps presse : commencez maintenant."],
            "Inspirational": [
                "Votre prochaine étape peut tout changer. ✨",
                "Commencez aujourd'hui ; vous vous remercierez.",
            ],
        },
        "reasons": [
            "Votre public lit avant que la journée de travail ne se remplisse.",
            "L'engagement culmine pendant la pause du milieu de semaine.",
            "Les gens font défiler plus lentement et ont le temps de répondre.",
        ],
    },
    "es": {
        "openers": {
            "Professional": ["Lo esencial sobre {topic}.", "Una mirada de cerca a {topic}."],
            "Witty": [
                "{topic}: sí, fuimos por ahí.",
                "Giro inesperado: {topic} es más divertido de lo que parece.",
            ],
            "Casual": ["Hablemos un momento de {topic}.", "Últimamente pienso mucho en {topic}."],
            "Urgent": ["No te lo pierdas: {topic}.", "Atención: {topic} no puede esperar."],
            "Inspirational": [
                "Los grandes cambios empiezan en pequeño, y {topic} lo demuestra.",
                "Imagina lo que {topic} hace posible.",
            ],
        },
        "bodies": [
            "Los equipos que aciertan empiezan con un objetivo claro y construyen desde ahí.",
            "Los pasos pequeños y constantes superan a las grandes promesas.",
            "Lo mejor es que puedes empezar ya, con lo que tienes.",
        ],
        "closers": {
            "Professional": [
                "¿Cuál es tu experiencia? Compártela abajo.",
                "Un buen tema para hablar con tu equipo.",
            ],
            "Witty": ["Tu turno. 😉", "Dinos que nos equivocamos. Esperamos."],
            "Casual": ["¿Qué opinas? 👇", "¿Qué añadirías tú?"],
            "Urgent": ["Actúa hoy, no algún día.", "El tiempo apremia: empieza ya."],
            "Inspirational": [
                "Tu próximo paso puede ser el que cuenta. ✨",
                "Empieza hoy; tu yo del futuro te lo agradecerá.",
            ],
        },
        "reasons": [
            "Tu audiencia está conectada y lee antes de que se llene la jornada.",
            "La interacción alcanza su máximo en la pausa de mitad de semana.",
            "La gente navega más despacio y tiene tiempo para responder.",
        ],
    },
}

GENERIC_TAGS: dict[str, list[str]] = {
    "en": ["#SocialMedia", "#Growth", "#Community", "#Ideas", "#Tips"],
    "de": ["#SocialMedia", "#Wachstum", "#Community", "#Ideen", "#Tipps"],
    "fr": ["#RéseauxSociaux", "#Croissance", "#Communauté", "#Idées", "#Conseils"],
    "es": ["#RedesSociales", "#Crecimiento", "#Comunidad", "#Ideas", "#Consejos"],
}
TONE_TAGS = {
    "Professional": "#Business",
    "Witty": "#Humor",
    "Casual": "#Friday",
    "Urgent": "#Now",
    "Inspirational": "#Motivation",
}
# Good slots per platform (reader's local time); the hash picks one.
BEST_TIMES: dict[str, list[str]] = {
    "linkedin": ["Tuesday 09:00", "Wednesday 08:30", "Thursday 10:00"],
    "x": ["Wednesday 12:00", "Thursday 09:00", "Friday 11:30"],
    "instagram": ["Monday 19:00", "Wednesday 11:00", "Saturday 10:30"],
    "facebook": ["Wednesday 13:00", "Thursday 15:00", "Sunday 10:00"],
    "threads": ["Tuesday 18:30", "Thursday 12:30", "Saturday 11:00"],
    "youtube": ["Thursday 17:00", "Friday 16:00", "Saturday 11:00"],
    "tiktok": ["Tuesday 19:00", "Thursday 20:00", "Friday 18:00"],
}
DEFAULT_BEST_TIMES = ["Tuesday 10:00", "Wednesday 12:30", "Thursday 17:00"]
_WORD = re.compile(r"[^\W\d_][\w-]{3,}", re.UNICODE)


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


# Leading words that are lower-case when the topic sits inside a sentence ("… about a free plan").
SENTENCE_LOWER = {
    "en": {"a", "an", "the", "our", "my", "we", "your", "this", "these", "new"},
    "fr": {"le", "la", "les", "un", "une", "notre", "nos", "nous", "votre", "ce", "cette"},
    "es": {"el", "la", "los", "las", "un", "una", "nuestro", "nuestra", "nuestros", "nuestras", "tu"},
    "de": set(),  # German capitalises nouns; articles are rare at a topic's start
}


def _short_topic(topic: str, language: str = "en") -> str:
    topic = " ".join(topic.split()).rstrip(".!?")
    first, _, rest = topic.partition(" ")
    if first.casefold() in SENTENCE_LOWER.get(language, set()) and first[:1].isupper():
        topic = f"{first.lower()} {rest}".strip()
    if len(topic) <= TOPIC_IN_TEXT_MAX:
        return topic
    cut = topic[:TOPIC_IN_TEXT_MAX].rsplit(" ", 1)[0]
    return cut + "…"


def _fit(parts: list[str], request: GenerationRequest, limit: int) -> str:
    """The longest of the candidate texts that fits `limit` as the platform counts."""
    candidates = [
        " ".join(parts),
        " ".join([parts[0], parts[2]]),
        " ".join(parts[:2]),
        parts[0],
    ]
    for text in candidates:
        if request.count(text) <= limit:
            return text
    words, text = parts[0].split(), ""
    for word in words:
        longer = f"{text} {word}".strip()
        if request.count(longer + "…") > limit:
            break
        text = longer
    return (text + "…") if text else parts[0][: max(1, limit - 1)] + "…"


def _hashtags(request: GenerationRequest, seed: int) -> list[str]:
    tags: list[str] = []
    for word in _WORD.findall(request.topic):
        tag = "#" + word.replace("-", "").capitalize()
        if tag.casefold() not in {t.casefold() for t in tags}:
            tags.append(tag)
        if len(tags) == 3:
            break
    generic = GENERIC_TAGS.get(request.language, GENERIC_TAGS["en"])
    rotated = generic[seed % len(generic) :] + generic[: seed % len(generic)]
    for tag in [TONE_TAGS.get(request.tone, "#Update"), *rotated]:
        if len(tags) >= 6:
            break
        if tag.casefold() not in {t.casefold() for t in tags}:
            tags.append(tag)
    return tags


def compose(request: GenerationRequest) -> dict:
    """The sample post's fields (the same raw shape Claude's tool call has)."""
    language = request.language if request.language in TEMPLATES else "en"
    table = TEMPLATES[language]
    seed = _digest(request.topic.casefold().strip(), request.tone, language)
    tone = request.tone if request.tone in table["openers"] else "Professional"  # type: ignore[operator]
    openers = table["openers"][tone]  # type: ignore[index]
    closers = table["closers"][tone]  # type: ignore[index]
    bodies = table["bodies"]
    topic = _short_topic(request.topic, language)
    opener = openers[seed % len(openers)].format(topic=topic)
    if opener[0].islower():
        opener = opener[0].upper() + opener[1:]
    body = bodies[(seed >> 8) % len(bodies)]  # type: ignore[index]
    closer = closers[(seed >> 16) % len(closers)]
    if request.brand is not None and request.brand.name:
        closer = f"{closer} — {request.brand.name}"
    content = _fit([opener, body, closer], request, text_budget(request))
    times = BEST_TIMES.get(request.platform, DEFAULT_BEST_TIMES)
    reasons = table["reasons"]
    return {
        "content": content,
        "hashtags": _hashtags(request, seed),
        "best_time": times[(seed >> 24) % len(times)],
        "best_time_reason": reasons[(seed >> 32) % len(reasons)],  # type: ignore[index]
    }


class OfflineGenerator:
    """Deterministic sample posts, streamed word by word."""

    name = NAME
    sample = True

    def __init__(self, *, word_delay: float = WORD_DELAY_SECONDS) -> None:
        self.word_delay = word_delay

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        raw = compose(request)
        post = validate_output(raw, request, sample=True, provider=NAME, model="sample")
        pieces = re.findall(r"\S+\s*", post.content)
        text = ""
        for piece in pieces:
            text += piece
            yield Progress(text.rstrip())
            if self.word_delay:
                await asyncio.sleep(self.word_delay)
        yield Finished(post)
