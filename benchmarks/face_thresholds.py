"""Choose the face thresholds from data: cosine distributions over every labelled pair.

    .venv/bin/python benchmarks/face_thresholds.py [--faces ../shared/faces] [--cache /tmp/ketpaar-face-embeddings.npz]

Embeds every labelled photo in ../shared/faces and altered copies of each (crop, brighter,
darker, rotated ±10°, JPEG q40, smaller), caching the embeddings in a file under /tmp (the
model costs about a second of CPU per photo). Prints the distribution of same-person and
different-person cosines over pairs of *different source photos* (two copies of one photo say
nothing about telling people apart), and the two governed values the rule below gives:

- face_sure_bp (one photo is enough): the largest different-person cosine seen anywhere (labelled
  pairs, altered copies, and the figures of issue 18 on eleven unseen people: 0.934), plus a
  margin of 0.02, rounded up to 0.005. A stranger must look more alike than anyone ever measured
  by that margin to be refused on one photo.
- face_match_threshold_bp (start of the uncertain band): the 2nd percentile of same-person
  cosines, rounded down to 0.005, but never above 0.93: below it nothing is asked. Between the
  two a second photo decides, so a lookalike in the band is never refused on one comparison.

Then both stages are simulated on the labelled set: a pair in the band is a duplicate only if a
second photo of the same seeker (every other photo and copy of that person) also scores ≥ the
threshold against the stored one; reported as false matches and misses.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DEEPFACE_HOME", str(REPO / "var" / "deepface"))

import numpy as np  # noqa: E402
from PIL import Image, ImageEnhance  # noqa: E402

UNSEEN_DIFFERENT_MAX = 0.934  # issue 18: the worst of 508 different-person pairs on 11 unseen people
MARGIN = 0.02
SAME_PERCENTILE = 2.0
STEP = 0.005


def altered(img: Image.Image) -> dict[str, Image.Image]:
    """Copies a donor's camera might produce: crop, light, rotation, compression, size."""
    w, h = img.size
    jpeg = io.BytesIO()
    img.save(jpeg, "JPEG", quality=40)
    return {
        "orig": img,
        "crop": img.crop((int(w * 0.1), int(h * 0.06), int(w * 0.92), h)),
        "bright": ImageEnhance.Brightness(img).enhance(1.4),
        "dark": ImageEnhance.Brightness(img).enhance(0.5),
        "rot+10": img.rotate(10, resample=Image.Resampling.BICUBIC),
        "rot-10": img.rotate(-10, resample=Image.Resampling.BICUBIC),
        "jpeg40": Image.open(jpeg).convert("RGB"),
        "small": img.resize((int(w * 0.5), int(h * 0.5)), Image.Resampling.LANCZOS),
    }


def embed_all(folder: Path, cache: Path) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    """[(photo, copy kind, person)], embeddings matrix; from the cache when it is there."""
    labels = json.loads((folder / "labels.json").read_text())["people"]
    if cache.is_file():
        data = np.load(cache, allow_pickle=False)
        keys = [tuple(k.split("|")) for k in data["keys"]]
        return keys, data["vectors"]  # type: ignore[return-value]
    from core.seekers import faces

    keys, vectors, started = [], [], time.perf_counter()
    for name, person in sorted(labels.items()):
        # decoded as the service decodes a photo (upright, at most 800 px), then altered
        src = Image.fromarray(faces.decode((folder / "people" / name).read_bytes())[:, :, ::-1])
        for kind, img in altered(src).items():
            result = faces.embed_array(np.ascontiguousarray(np.asarray(img)[:, :, ::-1]))
            if result.ok and result.embedding is not None:
                keys.append((name, kind, person))
                vectors.append(result.embedding)
            else:
                print(f"  no face: {name} {kind} ({result.status})")
    print(f"embedded {len(keys)} photos in {time.perf_counter() - started:.0f} s")
    np.savez(cache, keys=np.array(["|".join(k) for k in keys]), vectors=np.stack(vectors))
    return keys, np.stack(vectors)


def pair_scores(keys: list[tuple[str, str, str]], vectors: np.ndarray, originals_only: bool) -> tuple[list[float], list[float]]:
    """(same-person cosines, different-person cosines) over pairs of different source photos."""
    same, diff = [], []
    idx = [i for i, k in enumerate(keys) if not originals_only or k[1] == "orig"]
    sims = vectors @ vectors.T
    for i, j in itertools.combinations(idx, 2):
        if keys[i][0] == keys[j][0]:
            continue
        (same if keys[i][2] == keys[j][2] else diff).append(float(sims[i, j]))
    return sorted(same), sorted(diff)


def describe(name: str, values: list[float]) -> str:
    q = statistics.quantiles(values, n=100)
    return (f"{name}: {len(values)} pairs, min {values[0]:.4f}, p1 {q[0]:.4f}, p2 {q[1]:.4f}, p5 {q[4]:.4f}, "
            f"median {statistics.median(values):.4f}, p95 {q[94]:.4f}, p99 {q[98]:.4f}, max {values[-1]:.4f}")  # fmt: skip


def histogram(same: list[float], diff: list[float]) -> None:
    edges = [round(0.80 + 0.01 * i, 2) for i in range(21)]
    print("  cosine bin   same  different")
    for lo, hi in itertools.pairwise(edges):
        s = sum(lo <= v < hi for v in same)
        d = sum(lo <= v < hi for v in diff)
        print(f"  {lo:.2f}-{hi:.2f}  {s:5d}  {d:5d}")
    print(f"  <0.80      {sum(v < 0.80 for v in same):5d}  {sum(v < 0.80 for v in diff):5d}")


def choose(same: list[float], diff: list[float]) -> tuple[float, float]:
    """(threshold, sure) by the rule in the module docstring."""
    sure = math.ceil((max(diff[-1], UNSEEN_DIFFERENT_MAX) + MARGIN) / STEP - 1e-9) * STEP
    low = statistics.quantiles(same, n=100)[int(SAME_PERCENTILE) - 1]
    threshold = min(math.floor(low / STEP + 1e-9) * STEP, 0.93)
    return round(threshold, 4), round(sure, 4)


def two_stage(keys: list[tuple[str, str, str]], vectors: np.ndarray, threshold: float, sure: float) -> None:
    """Simulate: stored = one original photo; first = another source photo (any copy);
    second = a third photo of the first one's person (any copy). Count outcomes."""
    sims = vectors @ vectors.T
    stored = [i for i, k in enumerate(keys) if k[1] == "orig"]
    counts = {"same": [0, 0, 0, 0], "diff": [0, 0, 0, 0]}  # refused at once, asked+dup, asked+goes on, passes
    for s in stored:
        for f in range(len(keys)):
            if keys[f][0] == keys[s][0]:
                continue
            kind = "same" if keys[f][2] == keys[s][2] else "diff"
            c = sims[s, f]
            if c >= sure:
                counts[kind][0] += 1
            elif c >= threshold:
                # the donor's second photo: another photo of the person in front of them
                seconds = [g for g in range(len(keys)) if keys[g][2] == keys[f][2] and keys[g][0] not in (keys[f][0], keys[s][0])]
                agree = sum(sims[s, g] >= threshold for g in seconds) / max(len(seconds), 1)
                counts[kind][1] += agree
                counts[kind][2] += 1 - agree
            else:
                counts[kind][3] += 1
    for kind, (sure_n, dup, goes, passes) in counts.items():
        total = sure_n + dup + goes + passes
        wrong = (sure_n + dup) if kind == "diff" else (goes + passes)
        print(f"  {kind}-person first photos vs stored: {total:.0f}: refused on one photo {sure_n}, "
              f"second photo asked {dup + goes:.0f} (then duplicate {dup:.1f}, goes on {goes:.1f}), "
              f"passed {passes:.0f}; {'false matches' if kind == 'diff' else 'missed'} {wrong:.1f} ({100 * wrong / total:.2f} %)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path, default=Path(os.environ.get("KETPAAR_FACES_DIR") or REPO.parent / "shared" / "faces"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ketpaar-face-embeddings.npz"))
    args = parser.parse_args()
    keys, vectors = embed_all(args.faces, args.cache)
    for title, originals in (("labelled photos", True), ("labelled photos and their altered copies", False)):
        same, diff = pair_scores(keys, vectors, originals)
        print(f"{title}:")
        print("  " + describe("same person     ", same))
        print("  " + describe("different people", diff))
    histogram(same, diff)
    threshold, sure = choose(same, diff)
    print(f"chosen: face_match_threshold_bp = {round(threshold * 10_000)}, face_sure_bp = {round(sure * 10_000)} "
          f"(sure = max(different {diff[-1]:.4f}, unseen {UNSEEN_DIFFERENT_MAX}) + {MARGIN}; "
          f"threshold = p{SAME_PERCENTILE:g} of same {statistics.quantiles(same, n=100)[1]:.4f}, capped at 0.93)")  # fmt: skip
    for t, s in ((0.93, 0.93), (threshold, sure)):
        label = "one stage at 0.93 (before)" if s == t else "two stages (chosen)"
        print(f"{label}: threshold {t:.3f}, sure {s:.3f}")
        two_stage(keys, vectors, t, s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
