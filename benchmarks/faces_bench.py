"""Face screening benchmark: speed, memory, search, the photo pipeline, and accuracy.

    .venv/bin/python benchmarks/faces_bench.py [--faces ../shared/faces] [--quick]

Prints: model load time; the two-stage decision (face_match_threshold_bp, face_sure_bp) at the
governed defaults on the labelled pairs and altered copies; for core.seekers.faces and, for comparison, deepface run on the whole photo
(what core.seekers.faces did before): embedding time per photo after warm-up, peak RSS, false and
missed matches on the labelled photos at 0.93 (and nearby thresholds), and the same on six
altered copies of every photo (mirror, rotation, smaller, darker, recompressed, cropped);
search of one embedding against 100,000 stored ones; core.seekers.photos.clean_photo and
core.seekers.faces.embed on a generated 12-megapixel JPEG. About five minutes; --quick skips the
comparison and the altered copies.
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
from PIL import Image, ImageEnhance  # noqa: E402

from core.ledger.params import Params  # noqa: E402
from core.seekers import faces  # noqa: E402
from core.seekers.photos import clean_photo  # noqa: E402

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


def whole_photo(bgr: np.ndarray) -> np.ndarray | None:
    """The comparison: deepface detecting, aligning and embedding on the whole photo (what
    core.seekers.faces did before), largest face taken."""
    found = faces.load_model().represent(
        img_path=bgr, model_name=faces.MODEL_NAME, detector_backend=faces.DETECTOR, enforce_detection=False, align=True
    )
    found = [f for f in found if f["facial_area"].get("left_eye") is not None]
    if not found:
        return None
    return faces.normalise(max(found, key=lambda f: f["facial_area"]["w"] * f["facial_area"]["h"])["embedding"])


def core_embedding(bgr: np.ndarray) -> np.ndarray | None:
    result = faces.embed_array(bgr)
    return result.embedding if result.ok else None


def embed_all(method, arrays: dict, repeat: int = 1):  # type: ignore[no-untyped-def,type-arg]
    """(key -> embedding for the photos where a face was found, sorted seconds per photo).

    With repeat > 1 a photo's time is the median of its runs (this machine's speed wanders)."""
    out, times = {}, []
    for key, bgr in arrays.items():
        embedding, seconds = timed(method, bgr, repeat=repeat)
        times.append(statistics.median(seconds))
        if embedding is not None:
            out[key] = embedding
    times.sort()
    return out, times


def altered_copies(bgr: np.ndarray) -> dict[str, np.ndarray]:
    """Copies a donor's camera might produce of the same scene (made with Pillow)."""
    img = Image.fromarray(bgr[:, :, ::-1])
    w, h = img.size
    jpeg = io.BytesIO()
    img.save(jpeg, "JPEG", quality=45)
    copies = {
        "mirror": img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "rotate 10°": img.rotate(10, resample=Image.Resampling.BICUBIC),
        "60% size": img.resize((int(w * 0.6), int(h * 0.6)), Image.Resampling.LANCZOS),
        "darker": ImageEnhance.Brightness(img).enhance(0.55),
        "jpeg q45": Image.open(jpeg).convert("RGB"),
        "cropped": img.crop((int(w * 0.12), int(h * 0.08), w, h)),
    }
    return {kind: np.ascontiguousarray(np.asarray(c)[:, :, ::-1]) for kind, c in copies.items()}


def accuracy(embeddings: dict, label_of: dict, show_misses: bool) -> None:  # type: ignore[type-arg]
    """False and missed matches at nearby thresholds, over pairs of different source photos."""
    same, diff = [], []
    for a, b in itertools.combinations(sorted(embeddings), 2):
        source_a, source_b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
        if source_a == source_b:
            continue  # two copies of one photo say nothing about telling people apart
        c = faces.cosine(embeddings[a], embeddings[b])
        (same if label_of[a] == label_of[b] else diff).append((c, a, b))
    same.sort()
    diff.sort()
    print(f"    {len(embeddings)} embedded; {len(same)} same-person pairs, cosine {same[0][0]:.4f} … {same[-1][0]:.4f}; "
          f"{len(diff)} different-person pairs, {diff[0][0]:.4f} … {diff[-1][0]:.4f}")  # fmt: skip
    for threshold in (0.92, 0.93, 0.94):
        missed = [p for p in same if p[0] < threshold]
        false = [p for p in diff if p[0] >= threshold]
        marker = "  <- governed default" if threshold == THRESHOLD_BP / 10_000 else ""
        print(f"    at {threshold:.2f}: false matches {len(false)}/{len(diff)}, missed matches {len(missed)}/{len(same)}{marker}")
    t, sure = Params.face_match_threshold_bp / 10_000, Params.face_sure_bp / 10_000
    print(f"    two stages at the governed defaults (threshold {t:.3f}, sure {sure:.3f}): "
          f"different people refused on one photo {sum(p[0] >= sure for p in diff)}/{len(diff)}, "
          f"asked for a second photo {sum(t <= p[0] < sure for p in diff)}; same person refused on one photo "
          f"{sum(p[0] >= sure for p in same)}, asked {sum(t <= p[0] < sure for p in same)}, "
          f"missed outright {sum(p[0] < t for p in same)}/{len(same)} "
          f"(what the second photo then decides: benchmarks/face_thresholds.py)")  # fmt: skip
    if show_misses:
        for c, a, b in same:
            if c < THRESHOLD_BP / 10_000:
                print(f"      missed: {a} vs {b} ({label_of[a]}) cosine {c:.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path, default=Path(os.environ.get("KETPAAR_FACES_DIR") or REPO.parent / "shared" / "faces"))
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="skip the comparison with whole-photo deepface and the altered copies")
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

    # --- embedding speed and accuracy: core.seekers.faces against deepface on the whole photo ------------
    labels = json.loads((args.faces / "labels.json").read_text())
    people = sorted(labels["people"].items())
    label_of = dict(people)
    arrays = {name: faces.decode((args.faces / "people" / name).read_bytes()) for name, _ in people}
    methods = {"core.seekers.faces (find small, embed the face at 130 px)": core_embedding}
    if not args.quick:
        methods["deepface on the whole photo (before)"] = whole_photo
    for label, method in methods.items():
        method(arrays[people[0][0]])  # warm-up
        embeddings, per_photo = embed_all(method, arrays, repeat=3)
        print(f"{label}:")
        print(f"  embedding, {len(per_photo)} photos (decoded, ≤800 px; each the median of 3 runs): "
              f"median {ms(statistics.median(per_photo))}, "
              f"p90 {ms(per_photo[int(len(per_photo) * 0.9)])}, max {ms(per_photo[-1])}; peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip
        accuracy(embeddings, label_of, show_misses=True)
        if not args.quick:
            altered = {(name, kind): img for name in arrays for kind, img in altered_copies(arrays[name]).items()}
            altered_embeddings, _ = embed_all(method, altered)
            print(f"  altered copies ({len(altered) // len(arrays)} per photo: mirror, rotation, 60% size, darker, "
                  f"JPEG q45, cropped); pairs between copies of different photos:")  # fmt: skip
            accuracy(altered_embeddings, {key: label_of[key[0]] for key in altered_embeddings}, show_misses=False)

    statuses = {name: faces.embed((args.faces / name).read_bytes()).status for name in labels["multi_face"] + labels["no_face"]}
    print("other photos:", ", ".join(f"{Path(n).name}={s}" for n, s in statuses.items()))

    # --- a 12 MP photo straight into the face pipeline ------------------------------------------
    _, raw_embed = timed(faces.embed, big, repeat=3)
    _, cleaned_embed = timed(faces.embed, cleaned, repeat=3)
    print(f"embed on the 12 MP original: median {ms(statistics.median(raw_embed))}; "
          f"on its cleaned copy: median {ms(statistics.median(cleaned_embed))}; peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip
    probe = next(iter(embeddings.values()))

    # --- search --------------------------------------------------------------------------------
    rng = np.random.default_rng(1)
    stored = rng.normal(size=(args.stored, 128)).astype(np.float32)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    blobs = [faces.to_bytes(v) for v in stored]
    _, search = timed(faces.find_duplicate, stored, probe, THRESHOLD_BP, repeat=30)
    _, decode = timed(lambda: np.stack([faces.from_bytes(b) for b in blobs]), repeat=3)
    print(f"search 1 vs {args.stored:,} stored (matrix-vector product): median {ms(statistics.median(search))}")
    print(f"  decoding {args.stored:,} stored blobs into that matrix: median {ms(statistics.median(decode))} "
          f"(in service, candidates are first cut by time window and bounding box)")  # fmt: skip

    print(f"peak RSS at the end: {peak_rss_mb():.0f} MB (includes the 100,000 stored vectors and their blobs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
