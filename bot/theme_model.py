"""The offline text-embedding model behind theme assignment: wordllama's shipped static embeddings.

Chosen by measurement (bench/themes.py, README "Themes"): the `wordllama` wheel carries a 32k-token
× 256 embedding table (16 MB, float16) and its tokenizer, so a sentence vector is the mean of its
tokens' rows — well under a millisecond per comment on one CPU, numpy only, no network.

We read the two shipped files ourselves instead of calling `WordLlama.load()`: that looks for the
tokenizer in the wrong folder and then tries to download it, and importing `wordllama` configures
the root logger. `importlib.util.find_spec` finds the package's folder without importing it.
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


class ThemeModelError(RuntimeError):
    """The shipped model files are missing or unreadable; the message says which."""


class ThemeModel:
    """Turns texts into unit vectors; a pure function of the text and the shipped files."""

    name = "wordllama l2_supercat_256 (mean of token embeddings)"

    def __init__(self, tokenizer, table: np.ndarray) -> None:
        self._tokenizer = tokenizer
        # Kept as shipped (float16: 16 MB rather than 32); rows are widened when looked up.
        self._table = np.ascontiguousarray(table)
        self.dim = int(self._table.shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text (zeros for a text with no tokens)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # Lower case: the tokenizer is case-sensitive, and "SLOW" means what "slow" means.
        encodings = self._tokenizer.encode_batch([(t or "").lower() for t in texts], add_special_tokens=False)
        for i, enc in enumerate(encodings):
            ids = enc.ids[:MAX_TOKENS]
            if ids:
                vec = self._table[np.clip(ids, 0, len(self._table) - 1)].astype(np.float32).mean(axis=0)
                norm = float(np.linalg.norm(vec))
                if norm > 0:
                    out[i] = vec / norm
        return out


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
