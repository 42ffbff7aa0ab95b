"""Face screening benchmark: speed, memory, search, the photo pipeline, and accuracy.

    .venv/bin/python benchmarks/faces_bench.py [--faces ../shared/faces]

Prints: model load time; embedding time per photo after warm-up; peak RSS; search of one
embedding against 100,000 stored ones; core.photos.clean_photo and core.faces.embed on a
generated 12-megapixel JPEG; false and missed matches on the labelled photos at 0.93 (and
nearby thresholds, for comparison).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DEEPFACE_HOME", str(REPO / "var" / "deepface"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from core import faces  # noqa: E402
from core.photos import clean_photo  # noqa: E402

THRESHOLD_BP = 9_300


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, repeat: int = 1):  # type: ignore[no-untyped-def]
    """(last result, list of seconds per call)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - start)
    return result, times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def twelve_megapixel_jpeg() -> bytes:
    """A 4000x3000 photo-like JPEG (gradients plus sensor-like noise), built with Pillow alone
    so that making it does not inflate the peak memory being measured."""
    size = (4000, 3000)
    red = Image.linear_gradient("L").resize(size)
    green = Image.linear_gradient("L").rotate(90).resize(size)
    blue = Image.effect_noise(size, 40)
    img = Image.merge("RGB", (red, green, blue))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path, default=Path(os.environ.get("KETPAAR_FACES_DIR") or REPO.parent / "shared" / "faces"))
    parser.add_argument("--stored", type=int, default=100_000)
    args = parser.parse_args()

    print(f"CPUs: {os.cpu_count()}; peak RSS at start: {peak_rss_mb():.0f} MB")
    # --- photo pipeline on a 12 MP JPEG --------------------------------------------------------
    big = twelve_megapixel_jpeg()
    cleaned, clean_t = timed(clean_photo, big, repeat=3)
    print(f"12 MP JPEG ({len(big) / 1e6:.1f} MB): clean_photo median {ms(statistics.median(clean_t))} "
          f"-> {len(cleaned) / 1e3:.0f} kB; peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip

    if faces.missing_weights():
        print("placing weights:", *faces.install_weights(), sep="\n  ")
    _, load = timed(faces.load_model)
    print(f"model load (deepface import + Dlib ResNet + dlib detector): {load[0]:.2f} s; peak RSS {peak_rss_mb():.0f} MB")

    # --- embedding speed -----------------------------------------------------------------------
    labels = json.loads((args.faces / "labels.json").read_text())
    people = sorted(labels["people"].items())
    photos = {name: (args.faces / "people" / name).read_bytes() for name, _ in people}
    faces.embed(photos[people[0][0]])  # warm-up
    embeddings: dict[str, np.ndarray] = {}
    per_photo: list[float] = []
    for name, _ in people:
        result, t = timed(faces.embed, photos[name])
        per_photo.append(t[0])
        assert result.ok, name
        embeddings[name] = result.embedding
    per_photo.sort()
    print(
        f"embedding, {len(per_photo)} photos (≤1024 px in, shrunk to ≤800 px): median {ms(statistics.median(per_photo))}, "
        f"p90 {ms(per_photo[int(len(per_photo) * 0.9)])}, max {ms(per_photo[-1])}"
    )
    print(f"peak RSS after embedding: {peak_rss_mb():.0f} MB")

    # --- a 12 MP photo straight into the face pipeline ------------------------------------------
    _, raw_embed = timed(faces.embed, big, repeat=3)
    _, cleaned_embed = timed(faces.embed, cleaned, repeat=3)
    print(f"embed on the 12 MP original: median {ms(statistics.median(raw_embed))}; "
          f"on its cleaned copy: median {ms(statistics.median(cleaned_embed))}; peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip

    # --- accuracy ------------------------------------------------------------------------------
    label_of = dict(people)
    same, diff = [], []
    for a, b in itertools.combinations(sorted(embeddings), 2):
        c = faces.cosine(embeddings[a], embeddings[b])
        (same if label_of[a] == label_of[b] else diff).append((c, a, b))
    same.sort()
    diff.sort()
    print(f"accuracy on {len(embeddings)} photos of {len(set(label_of.values()))} people "
          f"({len(same)} same-person pairs, {len(diff)} different-person pairs):")  # fmt: skip
    print(f"  same-person cosine {same[0][0]:.4f} … {same[-1][0]:.4f}; different-person {diff[0][0]:.4f} … {diff[-1][0]:.4f}")
    for threshold in (0.85, 0.90, 0.92, 0.93, 0.94):
        missed = [p for p in same if p[0] < threshold]
        false = [p for p in diff if p[0] >= threshold]
        marker = "  <- governed default" if threshold == THRESHOLD_BP / 10_000 else ""
        print(f"  at {threshold:.2f}: false matches {len(false)}/{len(diff)}, missed matches {len(missed)}/{len(same)}{marker}")
    for c, a, b in same:
        if c < THRESHOLD_BP / 10_000:
            print(f"    missed: {a} vs {b} ({label_of[a]}) cosine {c:.4f}")
    statuses = {name: faces.embed((args.faces / name).read_bytes()).status for name in labels["multi_face"] + labels["no_face"]}
    print("  other photos:", ", ".join(f"{Path(n).name}={s}" for n, s in statuses.items()))
    # --- search --------------------------------------------------------------------------------
    rng = np.random.default_rng(1)
    stored = rng.normal(size=(args.stored, 128)).astype(np.float32)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    blobs = [faces.to_bytes(v) for v in stored]
    probe = next(iter(embeddings.values()))
    _, search = timed(faces.find_duplicate, stored, probe, THRESHOLD_BP, repeat=30)
    _, decode = timed(lambda: np.stack([faces.from_bytes(b) for b in blobs]), repeat=3)
    print(f"search 1 vs {args.stored:,} stored (matrix-vector product): median {ms(statistics.median(search))}")
    print(f"  decoding {args.stored:,} stored blobs into that matrix: median {ms(statistics.median(decode))} "
          f"(in service, candidates are first cut by time window and bounding box)")  # fmt: skip

    print(f"peak RSS at the end: {peak_rss_mb():.0f} MB (includes the 100,000 stored vectors and their blobs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
