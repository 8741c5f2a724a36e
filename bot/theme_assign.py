"""Assign one theme (or none) to a detractor comment: a pure function of text, themes and model.

Each theme gets a centre: the embedding of its name (twice, so short names are not drowned by long
descriptions) and description, plus a little of the vocabulary nearest to that (the words customers
use for the theme without using the description's own), moved toward the mean of its examples —
the theme file's and the comments people filed under it by hand (`theme N NAME`), which is how
corrections improve later assignments. A comment goes to the theme whose centre is nearest
(cosine), unless even that is below `NPSBOT_THEME_MIN_SCORE`: then it has no theme. A keyword from
the theme file that starts a word of the comment wins outright, before any model runs (first theme
in file order).

The name format, the expansion and the example weight were tuned on ../shared/data/themes
(bench/themes.py, docs/themes.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot import themes as legacy
from bot.theme_catalog import ThemeDef
from bot.theme_model import ThemeModel

# Vocabulary expansion: how many nearest tokens, and how strongly their mean pulls the centre. Both
# tuned on the dev sets; accuracy is flat (±0.5 point) from 30 to 100 tokens and 0.2 to 0.5 weight.
NEIGHBOURS, NEIGHBOUR_WEIGHT = 50, 0.3
# Examples pull a centre fully once a theme has this many; fewer pull it proportionally less.
EXAMPLES_FOR_FULL_WEIGHT = 3
SOURCE_MODEL, SOURCE_KEYWORD, SOURCE_PERSON = "model", "keyword", "person"


@dataclass(frozen=True)
class Assignment:
    theme: str | None
    score: float
    source: str


def describe(theme: ThemeDef) -> str:
    return f"{theme.name}. {theme.name}. {theme.description}"


class Assigner:
    """Holds the theme centres for one (themes, examples, model); cheap to call per comment."""

    def __init__(self, model: ThemeModel, themes: tuple[ThemeDef, ...],
                 learned: dict[str, list[str]] | None = None, *, min_score: float = 0.0,
                 neighbours: int = NEIGHBOURS, neighbour_weight: float = NEIGHBOUR_WEIGHT) -> None:
        self.model, self.themes, self.min_score = model, themes, min_score
        self._keyword_themes = tuple(legacy.Theme(t.name, t.keywords) for t in themes if t.keywords)
        learned = learned or {}
        centres = model.embed([describe(t) for t in themes]) if themes else np.zeros((0, model.dim), np.float32)
        if themes and neighbours and neighbour_weight:
            centres = centres + neighbour_weight * model.neighbours(centres, neighbours)
            centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        for i, t in enumerate(themes):
            examples = list(t.examples) + list(learned.get(t.name, ()))
            if examples:
                mean = model.embed(examples).mean(axis=0)
                centres[i] = centres[i] + mean * min(1.0, len(examples) / EXAMPLES_FOR_FULL_WEIGHT)
        norms = np.linalg.norm(centres, axis=1, keepdims=True)
        self.centres = centres / np.where(norms == 0, 1, norms)

    def keyword_theme(self, text: str) -> str | None:
        hits = legacy.classify_text(text, self._keyword_themes) if self._keyword_themes else []
        return hits[0] if hits else None

    def scores(self, texts: list[str]) -> np.ndarray:
        """Cosine of each text to each theme centre (rows: texts, columns: themes)."""
        return self.model.embed(texts) @ self.centres.T

    def assign(self, text: str | None) -> Assignment:
        return self.assign_many([text])[0]

    def assign_many(self, texts: list[str | None]) -> list[Assignment]:
        out: list[Assignment | None] = [None] * len(texts)
        todo: list[int] = []
        todo_texts: list[str] = []  # the texts of `todo`, each non-blank
        for i, text in enumerate(texts):
            if not text or not text.strip() or not self.themes:
                out[i] = Assignment(None, 0.0, SOURCE_MODEL)
            elif (hit := self.keyword_theme(text)) is not None:
                out[i] = Assignment(hit, 1.0, SOURCE_KEYWORD)
            else:
                todo.append(i)
                todo_texts.append(text)
        if todo:
            sims = self.scores(todo_texts)
            for row, i in zip(sims, todo, strict=True):
                best = int(np.argmax(row))
                score = float(row[best])
                name = self.themes[best].name if score >= self.min_score else None
                out[i] = Assignment(name, round(score, 4), SOURCE_MODEL)
        return out  # type: ignore[return-value]
