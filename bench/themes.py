"""Benchmark: theme assignment on the human-labelled dev sets, against the keyword matcher.

Reads ../shared/data/themes/ (dev_*.jsonl + themes_*.yaml; never copied into the project) and
prints, per set: accuracy and macro-F1 of

- the keyword matcher (the first round's rule, bot/themes.py, with keywords taken from each theme's
  name and description: the label-free baseline);
- npsbot's assignment (bot/theme_assign.py: zero-shot, from names and descriptions only);
- the same after corrections: 5-fold, the other folds' comments filed as people's corrections
  (`theme N NAME`), to show what those examples are worth;
- a held-out check of the tuning: the vocabulary expansion's two constants (bot/theme_assign.py)
  chosen on the *other* sets only, then measured on this one — how much of the gain is fitting.

"none" counts as wrong. Then: time to assign one comment (median, model loaded), model load time,
extra RSS of a server process once the model is loaded, and the install size the model's packages
add. Medians; the baseline (keyword matcher per comment) is timed in the same run.

    python bench/themes.py [--data ../shared/data/themes]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import themes as legacy  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.theme_assign import Assigner  # noqa: E402
from bot.theme_catalog import parse_yaml  # noqa: E402
from bot.theme_model import load_model  # noqa: E402

STOP = set("""a an and are as at be by for from has have in is it its of on or the their them they this to too
was were with what which who not no but so than that then there these those very our your you we i my me
does did done do about after into out up down over under more most less least other some such only own same
can will just should now been being had having if while because until when where why how all any both each
few nor off once here also itself themselves""".split())
# Packages the theme model brings that the server did not already have.
MODEL_PACKAGES = ("wordllama", "tokenizers", "safetensors", "huggingface-hub", "fsspec", "filelock", "tqdm", "toml")


def keyword_matcher(themes):
    """The label-free baseline: each theme's content words (name + description) as keywords."""
    kw = []
    for t in themes:
        words = {w for w in re.findall(r"[a-z]+", f"{t.name} {t.description}".lower()) if len(w) > 2 and w not in STOP}
        kw.append(legacy.Theme(t.name, tuple(sorted(words))))

    def classify(text: str) -> str | None:
        padded = " " + re.sub(r"[^a-z0-9]+", " ", text.lower()) + " "
        counts = [(sum(f" {k}" in padded for k in t.keywords), -i, t.name) for i, t in enumerate(kw)]
        best = max(counts)
        return best[2] if best[0] > 0 else None
    return classify


def scores(gold: list[str], pred: list[str | None], names: list[str]) -> tuple[float, float]:
    acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    f1s = []
    for n in names:
        tp = sum(g == n and p == n for g, p in zip(gold, pred, strict=True))
        fp = sum(g != n and p == n for g, p in zip(gold, pred, strict=True))
        fn = sum(g == n and p != n for g, p in zip(gold, pred, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return acc, sum(f1s) / len(f1s)


def with_corrections(model, themes, rows, min_score: float, folds: int = 5) -> list[str | None]:
    pred: list[str | None] = [None] * len(rows)
    for f in range(folds):
        learned: dict[str, list[str]] = {}
        for i, r in enumerate(rows):
            if i % folds != f:
                learned.setdefault(r["theme"], []).append(r["text"])
        assigner = Assigner(model, themes, learned, min_score=min_score)
        test = [i for i in range(len(rows)) if i % folds == f]
        for i, a in zip(test, assigner.assign_many([rows[i]["text"] for i in test]), strict=True):
            pred[i] = a.theme
    return pred


# The grid the expansion constants were tuned over (NEIGHBOURS, NEIGHBOUR_WEIGHT); 0 = no expansion.
GRID = [(0, 0.0)] + [(n, w) for n in (20, 50, 100, 200) for w in (0.2, 0.3, 0.5, 1.0)]


def held_out(model, sets, min_score: float) -> dict[str, tuple[float, float, tuple[int, float]]]:
    """Per set: (accuracy, macro-F1, constants) with the constants that did best on the other sets."""
    acc = {}
    for name, (themes, rows) in sets.items():
        texts, gold, names = [r["text"] for r in rows], [r["theme"] for r in rows], [t.name for t in themes]
        for n, w in GRID:
            pred = [a.theme for a in Assigner(model, themes, min_score=min_score, neighbours=n,
                                              neighbour_weight=w).assign_many(texts)]
            acc[name, (n, w)] = scores(gold, pred, names)
    out = {}
    for name in sets:
        others = [o for o in sets if o != name]
        best = max(GRID, key=lambda c: sum(acc[o, c][0] for o in others))
        out[name] = (*acc[name, best], best)
    return out


def median_ms(fn, items) -> float:
    times = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


RSS_PROBE = """
import sys; sys.path.insert(0, {root!r})
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
import bot.app  # the server's own imports first
before = rss()
from bot.theme_assign import Assigner
from bot.theme_catalog import BUILT_IN
from bot.theme_model import load_model
Assigner(load_model(), BUILT_IN).assign('The app crashes every time I log in')
print(before, rss())
"""


def ingest_cost(runs: int = 200) -> tuple[float, float]:
    """(median ms to ingest one detractor answer, median ms of that spent assigning its theme), SQLite."""
    import tempfile

    from bot.app import build_runtime
    from bot.ingest import ResponseIn, ingest
    from bot.theme_service import assign_rows
    from storage.db import write_connection

    with tempfile.TemporaryDirectory() as tmp:
        rt = build_runtime(Settings(DATABASE_URL=f"sqlite:///{tmp}/bench.db"))
        whole, theme = [], []
        for i in range(runs):
            item = ResponseIn(id=f"r{i}", score=2, comment="Support never answered my ticket about invoices",
                              customer={"id": f"c{i}"})
            t0 = time.perf_counter()
            ingest(rt, [item])
            whole.append((time.perf_counter() - t0) * 1000)
            with write_connection(rt.engine) as conn:
                t0 = time.perf_counter()
                assign_rows(conn, rt.settings, [{"category": "detractor", "comment": item.comment}])
                theme.append((time.perf_counter() - t0) * 1000)
        rt.engine.dispose()
    return statistics.median(whole), statistics.median(theme)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "themes"))
    args = ap.parse_args()
    data = Path(args.data)
    min_score = Settings().theme_min_score

    t0 = time.perf_counter()
    model = load_model()
    load_s = time.perf_counter() - t0

    rows_out = []
    all_texts = []
    sets = {}
    # Every labelled file of a theme set: dev_<set>.jsonl here; a held-out test_<set>.jsonl too if present.
    labelled = [(t, f) for t in sorted(data.glob("themes_*.yaml"))
                for f in sorted(data.glob(f"*_{t.stem.removeprefix('themes_')}.jsonl"))]
    for theme_file, rows_file in labelled:
        name = rows_file.stem
        themes = parse_yaml(theme_file.read_text(encoding="utf-8"), source=theme_file.name)
        rows = [json.loads(line) for line in rows_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        gold, names = [r["theme"] for r in rows], [t.name for t in themes]
        texts = [r["text"] for r in rows]
        all_texts += texts
        sets[name] = (themes, rows)
        kw = keyword_matcher(themes)
        assigner = Assigner(model, themes, min_score=min_score)
        k_acc, k_f1 = scores(gold, [kw(t) for t in texts], names)
        m_pred = [a.theme for a in assigner.assign_many(texts)]
        m_acc, m_f1 = scores(gold, m_pred, names)
        none = sum(p is None for p in m_pred) / len(m_pred)
        c_acc, c_f1 = scores(gold, with_corrections(model, themes, rows, min_score), names)
        t_kw = median_ms(kw, texts)
        t_model = median_ms(assigner.assign, texts)
        rows_out.append((name, len(rows), k_acc, k_f1, m_acc, m_f1, none, c_acc, c_f1, t_kw, t_model))

    probe = subprocess.run([sys.executable, "-c", RSS_PROBE.format(root=str(ROOT))], capture_output=True,
                           text=True, check=True, cwd=ROOT)
    before, after = (float(x) for x in probe.stdout.split())
    size = 0
    for pkg in MODEL_PACKAGES:
        try:
            dist = metadata.distribution(pkg)
        except metadata.PackageNotFoundError:
            continue
        size += sum(dist.locate_file(f).stat().st_size for f in dist.files or () if dist.locate_file(f).exists())

    print(f"model: {model.name}; min score {min_score}; load {load_s * 1000:.0f} ms")
    print("| set | items | keywords acc | keywords macro-F1 | npsbot acc | npsbot macro-F1 | none | "
          "after corrections acc | macro-F1 | ms/comment keywords | ms/comment npsbot |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows_out:
        print(f"| {r[0]} | {r[1]} | {r[2]:.1%} | {r[3]:.2f} | {r[4]:.1%} | {r[5]:.2f} | {r[6]:.1%} | "
              f"{r[7]:.1%} | {r[8]:.2f} | {r[9]:.3f} | {r[10]:.3f} |")
    n = len(rows_out)
    mean = [sum(r[i] for r in rows_out) / n for i in range(2, 9)]
    print(f"| mean | | {mean[0]:.1%} | {mean[1]:.2f} | {mean[2]:.1%} | {mean[3]:.2f} | {mean[4]:.1%} | "
          f"{mean[5]:.1%} | {mean[6]:.2f} | | |")
    print(f"npsbot vs keywords: {100 * (mean[2] - mean[0]):+.1f} points accuracy")
    if len(sets) > 1:
        ho = held_out(model, sets, min_score)
        print("held-out tuning (expansion constants chosen on the other sets): " + "; ".join(
            f"{k} {a:.1%} / {f:.2f} with {c}" for k, (a, f, c) in ho.items())
            + f"; mean {sum(a for a, _, _ in ho.values()) / len(ho):.1%} / "
              f"{sum(f for _, f, _ in ho.values()) / len(ho):.2f}")
    from bot.theme_catalog import BUILT_IN
    build = median_ms(lambda _: Assigner(model, BUILT_IN, min_score=min_score), range(5))
    print(f"building the theme centres (once per theme file and per correction), built-in list: {build:.1f} ms median")
    print(f"extra RSS with the model loaded: {after - before:.1f} MB (server imports {before:.0f} MB)")
    whole, theme = ingest_cost()
    print(f"webhook ingest of one detractor (SQLite): {whole:.2f} ms median, of which theme assignment "
          f"{theme:.2f} ms ({theme / whole:.0%}): kept inside the ingest transaction")
    print(f"added install size ({', '.join(MODEL_PACKAGES)}): {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
