"""Face embeddings: the same person matches, different people do not, odd photos are told apart.

The labelled photos of real people live outside the repository (../shared/faces, or
KETPAAR_FACES_DIR); without them these tests skip (and fail in CI, which always has them).
Only the public-domain astronaut portrait and variants made here from it would be fit to ship.
"""

from __future__ import annotations

import io
import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from core.seekers import faces
from tests.conftest import no_network, unavailable

REPO = Path(__file__).resolve().parents[1]
FACES_DIR = Path(os.environ.get("KETPAAR_FACES_DIR") or REPO.parent / "shared" / "faces")
THRESHOLD_BP = 9_300
THRESHOLD = THRESHOLD_BP / 10_000


@pytest.fixture(scope="session")
def shared() -> Path:
    """The labelled photo folder, or skip/fail."""
    if not (FACES_DIR / "labels.json").is_file():
        unavailable("face photos", f"{FACES_DIR} is absent (set KETPAAR_FACES_DIR)")
    return FACES_DIR


@pytest.fixture(scope="session")
def labels(shared: Path) -> dict[str, object]:
    return json.loads((shared / "labels.json").read_text())


@pytest.fixture(scope="session")
def people(shared: Path, labels: dict[str, object], face_model: None) -> dict[str, tuple[str, np.ndarray]]:
    """file -> (person label, embedding) for every single-person photo."""
    out: dict[str, tuple[str, np.ndarray]] = {}
    with no_network():
        for name, person in sorted(labels["people"].items()):  # type: ignore[union-attr]
            result = faces.embed((shared / "people" / name).read_bytes())
            assert result.ok, f"{name}: {result.status}"
            out[name] = (person, result.embedding)
    return out


def pairs(people: dict[str, tuple[str, np.ndarray]], same: bool) -> list[tuple[float, str, str]]:
    """(cosine, a, b) for every pair of photos of the same (or of different) people, ascending."""
    return sorted(
        (faces.cosine(ea, eb), a, b)
        for (a, (pa, ea)), (b, (pb, eb)) in itertools.combinations(sorted(people.items()), 2)
        if (pa == pb) == same
    )


def png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def astronaut_variants(src: Image.Image) -> dict[str, bytes]:
    """Altered copies a donor's camera might produce of the same person."""
    w, h = src.size
    recompressed = io.BytesIO()
    src.save(recompressed, "JPEG", quality=35)
    return {
        "crop": png(src.crop((int(w * 0.1), 0, int(w * 0.85), int(h * 0.8)))),
        "mirror": png(ImageOps.mirror(src)),
        "rotate +8°": png(src.rotate(8, resample=Image.Resampling.BICUBIC, expand=True)),
        "rotate -8°": png(src.rotate(-8, resample=Image.Resampling.BICUBIC, expand=True)),
        "darker": png(ImageEnhance.Brightness(src).enhance(0.45)),
        "jpeg q35": recompressed.getvalue(),
        "half size": png(src.resize((w // 2, h // 2), Image.Resampling.LANCZOS)),
    }


# --- model-free ------------------------------------------------------------------------------


def test_cosine_of_a_vector_with_itself_is_one_and_with_its_opposite_minus_one() -> None:
    v = np.arange(1, 129, dtype=np.float32)
    assert faces.cosine(v, v) == pytest.approx(1.0)
    assert faces.cosine(v, -v) == pytest.approx(-1.0)


def test_find_duplicate_returns_the_best_candidate_at_or_above_the_threshold() -> None:
    rng = np.random.default_rng(7)
    base = faces.normalise(rng.normal(size=128))
    noise = faces.normalise(rng.normal(size=128))
    near = faces.normalise(base + 0.2 * noise)  # cosine ≈ 0.98
    nearer = faces.normalise(base + 0.1 * noise)
    others = [faces.normalise(rng.normal(size=128)) for _ in range(50)]
    match = faces.find_duplicate(np.stack([*others, near, nearer]), base, THRESHOLD_BP)
    assert match is not None and match.index == 51 and match.similarity > 0.99
    assert faces.find_duplicate(np.stack(others), base, THRESHOLD_BP) is None
    assert faces.find_duplicate([], base, THRESHOLD_BP) is None


def test_embeddings_survive_the_trip_through_storage_bytes() -> None:
    v = faces.normalise(np.random.default_rng(1).normal(size=128))
    data = faces.to_bytes(v)
    assert len(data) == 512
    assert np.allclose(faces.from_bytes(data), v)


def test_bytes_that_are_not_an_image_are_refused() -> None:
    with pytest.raises(ValueError):
        faces.decode(b"certainly not a photo")


def test_a_large_photo_is_shrunk_to_800_pixels_before_embedding() -> None:
    big = Image.new("RGB", (4000, 3000), (120, 90, 60))
    out = io.BytesIO()
    big.save(out, "JPEG")
    assert faces.decode(out.getvalue()).shape == (600, 800, 3)


def test_without_weights_the_model_refuses_to_load_instead_of_downloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    monkeypatch.setattr(faces, "_deepface", None)
    assert len(faces.missing_weights()) == 2
    with no_network(), pytest.raises(faces.FaceModelUnavailable, match="install_face_weights"):
        faces.load_model()


# --- with the model --------------------------------------------------------------------------


def test_the_weights_are_placed_from_the_installed_package_and_nothing_is_downloaded(face_model: None) -> None:
    home = faces.deepface_home()
    for name in faces.WEIGHT_FILES:
        assert (home / ".deepface" / "weights" / name).stat().st_size > 1_000_000
    assert all(line.startswith("unchanged") for line in faces.install_weights(home))  # idempotent


def test_photos_of_the_same_person_match_at_093_with_at_most_two_near_misses(
    people: dict[str, tuple[str, np.ndarray]], record_property: pytest.RecordProperty
) -> None:
    same = pairs(people, same=True)
    misses = [(round(c, 4), a, b) for c, a, b in same if c < THRESHOLD]
    record_property("same_person_min", round(same[0][0], 4))
    record_property("same_person_misses", misses)
    print(f"same person: {len(same)} pairs, min {same[0][0]:.4f}, below {THRESHOLD}: {misses}")
    # Measured: 87 of 88 pairs ≥ 0.93; img17 vs img61 scores 0.9294. (deepface on the whole
    # photo missed two: img12, a small low-contrast face, at 0.924-0.925.) The threshold is
    # governed; this pins the data.
    assert len(misses) <= 2
    assert same[0][0] >= 0.92


def test_photos_of_different_people_never_match_at_093(
    people: dict[str, tuple[str, np.ndarray]], record_property: pytest.RecordProperty
) -> None:
    different = pairs(people, same=False)
    worst = different[-1]
    record_property("different_people_max", round(worst[0], 4))
    print(f"different people: {len(different)} pairs, max {worst[0]:.4f} ({worst[1]} vs {worst[2]})")
    assert worst[0] < THRESHOLD, f"false match: {worst}"


def test_a_photo_of_several_people_asks_for_one_of_just_the_seeker(shared: Path, labels: dict[str, object], face_model: None) -> None:
    for name in labels["multi_face"]:  # type: ignore[union-attr]
        result = faces.embed((shared / name).read_bytes())
        assert result.status == "many" and result.embedding is None and result.faces >= 2, name


def test_a_photo_without_a_person_has_no_face(shared: Path, labels: dict[str, object], face_model: None) -> None:
    for name in labels["no_face"]:  # type: ignore[union-attr]
        result = faces.embed((shared / name).read_bytes())
        assert result.status == "none" and result.embedding is None, name


def test_one_clearly_largest_face_is_used_and_two_equal_faces_are_many(shared: Path, face_model: None) -> None:
    src = Image.open(shared / "other" / "astronaut.png").convert("RGB")
    original = faces.embed(png(src))
    assert original.ok
    side_by_side = Image.new("RGB", (src.width * 2, src.height))
    side_by_side.paste(src, (0, 0))
    side_by_side.paste(src, (src.width, 0))
    assert faces.embed(png(side_by_side)).status == "many"
    # A second face of a third of the area is counted but does not make the photo "many"; a
    # tiny one need not even be found. Either way the larger face is the one embedded.
    results = {}
    for scale in (0.6, 0.33):
        small = (int(src.width * scale), int(src.height * scale))
        with_small_copy = Image.new("RGB", (src.width + small[0], src.height), (40, 40, 40))
        with_small_copy.paste(src, (0, 0))
        with_small_copy.paste(src.resize(small), (src.width, 0))
        results[scale] = result = faces.embed(png(with_small_copy))
        assert result.ok, scale
        assert faces.cosine(result.embedding, original.embedding) >= THRESHOLD, scale
    assert results[0.6].faces == 2 and (results[0.6].area_ratio or 0) >= 2
    assert results[0.33].faces == 1 or (results[0.33].area_ratio or 0) >= 2


def test_a_face_too_small_for_the_quick_search_is_found_in_the_whole_photo(shared: Path, face_model: None) -> None:
    src = Image.open(shared / "other" / "astronaut.png").convert("RGB")
    canvas = Image.new("RGB", (1000, 750), (90, 110, 90))
    canvas.paste(src.resize((src.width // 2, src.height // 2), Image.Resampling.LANCZOS), (620, 380))
    bgr = faces.decode(png(canvas))
    deepface = faces.load_model()
    small, factor = faces._shrunk(bgr, faces.DETECT_SIDES[0])
    quick = deepface.extract_faces(img_path=small, detector_backend=faces.DETECTOR, enforce_detection=False, align=False)
    assert not any(f["facial_area"].get("left_eye") for f in quick), "the face should be too small for the 320 px copy"
    result = faces.embed_array(bgr)
    assert result.ok and result.faces == 1
    assert faces.cosine(result.embedding, faces.embed(png(src)).embedding) >= 0.9


def test_the_face_cut_out_embeds_like_deepface_on_the_whole_photo(shared: Path, face_model: None) -> None:
    bgr = faces.decode((shared / "other" / "astronaut.png").read_bytes())
    whole = faces._represent(faces.load_model(), bgr)
    result = faces.embed_array(bgr)
    assert whole is not None and result.ok
    assert faces.cosine(result.embedding, whole) >= THRESHOLD


def test_altered_copies_of_a_photo_match_it_and_no_one_else(
    shared: Path, people: dict[str, tuple[str, np.ndarray]], record_property: pytest.RecordProperty
) -> None:
    src = Image.open(shared / "other" / "astronaut.png").convert("RGB")
    original = faces.embed(png(src))
    assert original.ok
    matrix = np.stack([e for _, e in people.values()])
    scores: dict[str, float] = {}
    for name, data in astronaut_variants(src).items():
        result = faces.embed(data)
        assert result.ok, f"{name}: {result.status}"
        scores[name] = round(faces.cosine(result.embedding, original.embedding), 4)
        assert scores[name] >= THRESHOLD, f"{name} no longer matches: {scores[name]}"
        assert faces.find_duplicate(matrix, result.embedding, THRESHOLD_BP) is None, f"{name} matches a stranger"
    assert faces.find_duplicate(matrix, original.embedding, THRESHOLD_BP) is None
    record_property("variant_similarity", scores)
    print("astronaut variants:", scores)


async def test_embedding_runs_off_the_event_loop(shared: Path, face_model: None) -> None:
    result = await faces.embed_async((shared / "other" / "astronaut.png").read_bytes())
    assert result.ok and result.embedding is not None
    assert result.embedding.shape == (128,) and abs(float(np.linalg.norm(result.embedding)) - 1) < 1e-5
