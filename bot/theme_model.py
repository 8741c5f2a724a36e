"""The offline text-embedding model behind theme assignment: wordllama's shipped static embeddings.

Chosen by measurement (bench/themes.py, README "Themes"): the `wordllama` wheel carries a 32k-token
× 256 embedding table (16 MB, float16) and its tokenizer, so a sentence vector is the mean of its
tokens' rows — well under a millisecond per comment on one CPU, numpy only, no network.

We read the two shipped files ourselves instead of calling `WordLlama.load()`: that looks for the
tokenizer in the wrong folder and then tries to download it, and importing `wordllama` configures
the root logger. `importlib.util.find_spec` finds the package's folder without importing it.

Two refinements, measured on ../shared/data/themes (bench/themes.py, docs/themes.md): English
function words are left out of the mean (with static vectors "the", "was", "it" pull every sentence
toward the same generic direction), and `neighbours` lets a theme centre borrow the vocabulary
nearest to it, so "Battery & charging" also reaches comments that say "charged" or "power".
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
TENSOR = "embedding.weight"
# Long comments are cut: the mean of the first 512 tokens says what the comment is about, and the
# cost per comment stays bounded whatever a survey tool sends.
MAX_TOKENS = 512
# Function words dropped before averaging (a sentence of nothing else keeps them all). Negations stay:
# "not", "no", "never" are what a complaint is made of.
STOP_WORDS = frozenset("""a an and are as at be by for from has have in is it its of on or the their them they
this to too was were with which who but so than that then there these those our your you we i my me does did
done do about after into out up down over under more most less least other some such only own same can will
just should now been being had having if while because until when where why how all any both each few nor off
once here also itself themselves it's i'm i've would could get got one""".split())


class ThemeModelError(RuntimeError):
    """The shipped model files are missing or unreadable; the message says which."""


class ThemeModel:
    """Turns texts into unit vectors; a pure function of the text and the shipped files."""

    name = "wordllama l2_supercat_256 (mean of content-token embeddings)"

    def __init__(self, tokenizer, table: np.ndarray) -> None:
        self._tokenizer = tokenizer
        # Kept as shipped (float16: 16 MB rather than 32); rows are widened when looked up.
        self._table = np.ascontiguousarray(table)
        self.dim = int(self._table.shape[1])
        self._stop_ids = frozenset(self._single_token_ids(STOP_WORDS))
        self._word_rows: tuple[np.ndarray, np.ndarray] | None = None

    def _single_token_ids(self, words) -> list[int]:
        ids = []
        for word in words:
            for form in (word, " " + word):
                enc = self._tokenizer.encode(form, add_special_tokens=False).ids
                if len(enc) == 1:
                    ids.append(enc[0])
        return ids

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text (zeros for a text with no tokens)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # Lower case: the tokenizer is case-sensitive, and "SLOW" means what "slow" means.
        encodings = self._tokenizer.encode_batch([(t or "").lower() for t in texts], add_special_tokens=False)
        for i, enc in enumerate(encodings):
            ids = [t for t in enc.ids[:MAX_TOKENS] if t not in self._stop_ids] or enc.ids[:MAX_TOKENS]
            if ids:
                vec = self._table[np.clip(ids, 0, len(self._table) - 1)].astype(np.float32).mean(axis=0)
                norm = float(np.linalg.norm(vec))
                if norm > 0:
                    out[i] = vec / norm
        return out

    def neighbours(self, vectors: np.ndarray, count: int) -> np.ndarray:
        """Per row of `vectors`, the unit mean of the `count` vocabulary words nearest to it (cosine).

        Runs when theme centres are built (once per theme file and set of corrections), never per
        comment. Only lower-case whole words are borrowed: comments are lower-cased before they are
        tokenized, so capitalised tokens and word pieces never occur in them.
        """
        vectors = np.asarray(vectors, np.float32)
        out = np.zeros((len(vectors), self.dim), dtype=np.float32)
        if not len(vectors):
            return out
        ids, unit = self._words()
        count = min(count, len(ids))
        for i, vector in enumerate(vectors):
            # One matrix-vector product per theme, not one matrix product: OpenBLAS's matrix-matrix
            # path allocates a ~10 MB work buffer that the server would then keep for good.
            sims = unit @ vector
            # The nearest `count` as a set (their mean does not depend on order): same input, same words.
            top = ids[np.argpartition(-sims, count - 1)[:count]]
            vec = self._table[top].astype(np.float32).mean(axis=0)
            out[i] = vec / (float(np.linalg.norm(vec)) or 1.0)
        return out

    def _words(self) -> tuple[np.ndarray, np.ndarray]:
        """(token ids, their unit rows as float32) of the whole lower-case words: 10k × 256, 10 MB.

        Built once, a token at a time (no 32k-entry vocabulary dict, no full-table float32 copy), so
        the server's memory grows by the result only.
        """
        if self._word_rows is None:
            ids = np.array([i for i in range(len(self._table)) if i not in self._stop_ids
                            and _is_word(self._tokenizer.id_to_token(i))], dtype=np.int64)
            rows = np.empty((len(ids), self.dim), dtype=np.float32)
            for start in range(0, len(ids), 1024):
                chunk = self._table[ids[start:start + 1024]].astype(np.float32)
                norms = np.linalg.norm(chunk, axis=1, keepdims=True)
                rows[start:start + 1024] = chunk / np.where(norms == 0, 1, norms)
            self._word_rows = (ids, rows)
        return self._word_rows


def _is_word(token: str | None) -> bool:
    """A lower-case whole word of three letters or more, as the tokenizer spells it ("\u2581word")."""
    if not token:
        return False
    return token.startswith("\u2581") and len(token) > 3 and token[1:].isalpha() and token[1:].islower()


def model_dir() -> Path:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise ThemeModelError("the `wordllama` package is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations)))


@lru_cache(maxsize=1)
def load_model() -> ThemeModel:
    """Load once per process, from the package's own files only."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    root = model_dir()
    weights, tokenizer = root / WEIGHTS, root / TOKENIZER
    for path in (weights, tokenizer):
        if not path.is_file():
            raise ThemeModelError(f"theme model file missing: {path}")
    table = load_file(str(weights))[TENSOR]
    return ThemeModel(Tokenizer.from_file(str(tokenizer)), table)
