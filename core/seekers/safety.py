"""Location safety: is it reasonable to send a delivery worker to this place, now?

The seed scored locations from Google Maps signals. Ketpaar uses only what it can know itself:

- the local hour and day of the week,
- how high the sun is at that place and moment (core.shared.sun),
- its own history near the place: deliveries that went well, deliveries that failed, and
  safety problems workers reported there (counted by the caller, passed in as numbers),
- two questions the donor answers from the scene: is it a busy public place? is it well lit?
  (each "yes", "no" or "unknown").

Two scorers share one interface (`score(features) -> probability of a safe delivery`):

`RuleModel` — the seed's weighted formula, used whenever no trained model is available:

    score = 0.30 * daylight + 0.25 * busy + 0.25 * lit + 0.20 * history

    daylight = 0 below civil twilight (sun 6° under the horizon), 1 once the sun is 6° up,
               linear in between (core.shared.sun.daylight_level)
    busy     = 1 yes, 0 no, 0.5 unknown
    lit      = the same, but never less than `daylight` (lighting matters after dark)
    history  = (good + 3) / (good + failed + 2 * issues + 4): three good deliveries out of
               four assumed where nothing is known yet (0.75); each reported safety problem
               weighs as two failures.

  With the default threshold 0.65: daytime passes unless the place has a bad record; at night
  a place passes only when the donor says it is busy *and* well lit and its record is clean.

`TrainedModel` — a GradientBoostingClassifier trained on outcome rows. Until the cooperative
has real outcomes it is trained on `core/seekers/data/safety_bootstrap.csv`, which is SYNTHETIC: rows
drawn at random and labelled by a noisy version of the rule above (`generate_bootstrap`
documents and reproduces it). Such a model knows nothing the rule does not; it exists so the
training, versioning and storage paths run from day one. Replace it with real outcomes
(ScreeningRepo.outcome_rows) as soon as there are a few hundred.

Every assessment is stored with the model's version: for a trained model, a hash of its
training rows, its settings and the scikit-learn version, so any score can be traced to the
data that produced it.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from core.shared.clock import LOCAL_TZ
from core.shared.sun import daylight_level, solar_elevation

YES, NO, UNKNOWN = "yes", "no", "unknown"
ANSWERS = {YES: 1.0, NO: 0.0, UNKNOWN: 0.5}
FEATURE_NAMES = ("hour", "weekday", "sun_elevation", "good", "failed", "issues", "busy", "lit")
RULE_VERSION = "rule-v1"
BOOTSTRAP_CSV = Path(__file__).with_name("data") / "safety_bootstrap.csv"
MODEL_FILE = "safety_model.joblib"
MIN_TRAINING_ROWS = 50
GB_SETTINGS = {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.05, "subsample": 1.0, "random_state": 0}

# Reason codes, in the order they are reported; the chat layer translates them.
REASONS = (
    "dark",  # the sun is down
    "not_busy",  # donor: not a busy public place
    "busy_unknown",  # donor did not say whether it is busy
    "not_lit",  # donor: not well lit (after dark)
    "lit_unknown",  # donor did not say whether it is lit (after dark)
    "past_failures",  # deliveries near here failed
    "safety_reports",  # workers reported safety problems near here
)


def answer(value: str | bool | None) -> str:
    """Normalise a donor's answer to yes / no / unknown."""
    if value is True or value == YES:
        return YES
    if value is False or value == NO:
        return NO
    return UNKNOWN


@dataclass(frozen=True)
class SafetyFeatures:
    """Everything a safety score may look at (no coordinates: they are not needed once the
    sun's elevation and the nearby counts are known, and they are kept out of assessments)."""

    hour: int  # local (India) hour, 0-23
    weekday: int  # 0 = Monday
    sun_elevation: float  # degrees
    good: int = 0  # deliveries that went well near here
    failed: int = 0  # deliveries that failed near here
    issues: int = 0  # worker-reported safety problems near here
    busy: str = UNKNOWN  # donor: busy public place?
    lit: str = UNKNOWN  # donor: well lit?

    @classmethod
    def at(
        cls, lat: float, lng: float, when: datetime, *, good: int = 0, failed: int = 0, issues: int = 0,
        busy: str | bool | None = None, lit: str | bool | None = None,
    ) -> SafetyFeatures:  # fmt: skip
        """Features for a place and moment; the counts come from the caller's database."""
        local = when.astimezone(LOCAL_TZ)
        return cls(
            hour=local.hour, weekday=local.weekday(), sun_elevation=round(solar_elevation(lat, lng, when), 2),
            good=max(int(good), 0), failed=max(int(failed), 0), issues=max(int(issues), 0),
            busy=answer(busy), lit=answer(lit),
        )  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SafetyFeatures:
        """Read features back from JSON or a CSV row."""
        return cls(
            hour=int(data["hour"]), weekday=int(data["weekday"]), sun_elevation=float(data["sun_elevation"]),
            good=int(data.get("good", 0)), failed=int(data.get("failed", 0)), issues=int(data.get("issues", 0)),
            busy=answer(data.get("busy")), lit=answer(data.get("lit")),
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """JSON form, stored with each assessment."""
        return asdict(self)

    def vector(self) -> list[float]:
        """Model input, in FEATURE_NAMES order."""
        return [
            float(self.hour), float(self.weekday), float(self.sun_elevation), float(self.good),
            float(self.failed), float(self.issues), ANSWERS[self.busy], ANSWERS[self.lit],
        ]  # fmt: skip

    @property
    def daylight(self) -> float:
        """0 (dark) … 1 (day)."""
        return daylight_level(self.sun_elevation)

    @property
    def history(self) -> float:
        """Smoothed share of good outcomes near here (0.75 when nothing is known)."""
        return (self.good + 3) / (self.good + self.failed + 2 * self.issues + 4)


class SafetyModel(Protocol):
    """Anything that scores features."""

    version: str

    def score(self, features: SafetyFeatures) -> float:
        """Probability that a delivery here, now, goes safely (0…1)."""


class RuleModel:
    """The seed's weighted formula (see the module docstring)."""

    version = RULE_VERSION

    def score(self, features: SafetyFeatures) -> float:
        """0.30 daylight + 0.25 busy + 0.25 lit + 0.20 history."""
        day = features.daylight
        lit = max(ANSWERS[features.lit], day)
        return 0.30 * day + 0.25 * ANSWERS[features.busy] + 0.25 * lit + 0.20 * features.history


def explain(features: SafetyFeatures) -> list[str]:
    """Stable codes for what lowers this place's safety, most important first (see REASONS).

    The chat layer shows them when a score falls below the threshold; codes ending in
    `_unknown` are questions the donor can still answer."""
    reasons: list[str] = []
    dark = features.daylight < 0.5
    if dark:
        reasons.append("dark")
    if features.busy == NO:
        reasons.append("not_busy")
    elif features.busy == UNKNOWN:
        reasons.append("busy_unknown")
    if dark and features.lit == NO:
        reasons.append("not_lit")
    elif dark and features.lit == UNKNOWN:
        reasons.append("lit_unknown")
    if features.failed > 0 and features.failed >= features.good / 4:
        reasons.append("past_failures")
    if features.issues > 0:
        reasons.append("safety_reports")
    return reasons


@dataclass(frozen=True)
class Assessment:
    """A score, what it means under the threshold, and where it came from."""

    score_bp: int
    threshold_bp: int
    model_version: str
    reasons: tuple[str, ...]
    features: SafetyFeatures

    @property
    def safe(self) -> bool:
        """At or above the threshold."""
        return self.score_bp >= self.threshold_bp


def assess(model: SafetyModel, features: SafetyFeatures, threshold_bp: int) -> Assessment:
    """Score features; give reasons only when the score is below the threshold."""
    score_bp = int(round(min(max(model.score(features), 0.0), 1.0) * 10_000))
    reasons = tuple(explain(features)) if score_bp < threshold_bp else ()
    return Assessment(score_bp, threshold_bp, model.version, reasons, features)


# --- the trained model -----------------------------------------------------------------------


Row = tuple[SafetyFeatures, bool]


def _rows(rows: Iterable[Row | tuple[Mapping[str, Any], bool]]) -> list[Row]:
    out: list[Row] = []
    for features, safe in rows:
        out.append((features if isinstance(features, SafetyFeatures) else SafetyFeatures.from_dict(features), bool(safe)))
    return out


def data_version(rows: Sequence[Row], source: str) -> str:
    """gb-<source>-<12 hex>: a hash of the training rows, the settings and scikit-learn's version."""
    import sklearn

    digest = hashlib.sha256()
    digest.update(json.dumps({"sklearn": sklearn.__version__, "settings": GB_SETTINGS, "features": FEATURE_NAMES}, sort_keys=True).encode())
    for features, safe in rows:
        digest.update(json.dumps([features.vector(), int(safe)]).encode())
    return f"gb-{source}-{digest.hexdigest()[:12]}"


class TrainedModel:
    """A GradientBoostingClassifier over FEATURE_NAMES, with its version and provenance."""

    def __init__(self, classifier: Any, version: str, rows: int, source: str, sklearn_version: str) -> None:
        self.classifier, self.version, self.rows, self.source = classifier, version, rows, source
        self.sklearn_version = sklearn_version
        self._safe_column = list(classifier.classes_).index(1)

    def score(self, features: SafetyFeatures) -> float:
        """Predicted probability of a safe delivery."""
        import numpy as np

        proba = self.classifier.predict_proba(np.asarray([features.vector()], dtype=np.float64))
        return float(proba[0, self._safe_column])

    def save(self, path: Path, key: bytes | None = None) -> None:
        """Write the model (joblib) and a sidecar with its version and an HMAC-SHA256 (or plain
        SHA-256 without a key) of the file, checked before the file is ever unpickled."""
        import joblib

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        joblib.dump({"classifier": self.classifier, "version": self.version, "rows": self.rows,
                     "source": self.source, "sklearn": self.sklearn_version}, tmp)  # fmt: skip
        meta = {"version": self.version, "rows": self.rows, "source": self.source,
                "sklearn": self.sklearn_version, "digest": _digest(tmp.read_bytes(), key)}  # fmt: skip
        sidecar = _sidecar(path)
        sidecar_tmp = sidecar.with_name(f".{sidecar.name}.tmp")
        sidecar_tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
        tmp.replace(path)
        sidecar_tmp.replace(sidecar)


def _digest(data: bytes, key: bytes | None) -> str:
    if key:
        return "hmac-sha256:" + hmac.new(key, data, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def train(rows: Iterable[Row | tuple[Mapping[str, Any], bool]], source: str = "outcomes") -> TrainedModel:
    """Fit a GradientBoostingClassifier on (features, safe) rows; deterministic for given rows."""
    import numpy as np
    import sklearn
    from sklearn.ensemble import GradientBoostingClassifier

    data = _rows(rows)
    labels = {safe for _, safe in data}
    if len(data) < MIN_TRAINING_ROWS or labels != {True, False}:
        raise ValueError(f"need at least {MIN_TRAINING_ROWS} rows with both outcomes, got {len(data)} rows")
    x = np.asarray([f.vector() for f, _ in data], dtype=np.float64)
    y = np.asarray([int(s) for _, s in data])
    classifier = GradientBoostingClassifier(**GB_SETTINGS).fit(x, y)
    return TrainedModel(classifier, data_version(data, source), len(data), source, sklearn.__version__)


def load(path: Path, key: bytes | None = None) -> TrainedModel | None:
    """Load a model this service saved; None if absent, tampered with, or from another
    scikit-learn version (then retrain). Only ever point this at the service's own data dir:
    the file is a pickle."""
    import joblib
    import sklearn

    sidecar = _sidecar(path)
    if not path.is_file() or not sidecar.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    if meta.get("sklearn") != sklearn.__version__:
        return None
    data = path.read_bytes()
    if not hmac.compare_digest(str(meta.get("digest", "")), _digest(data, key)):
        return None
    stored = joblib.load(io.BytesIO(data))
    return TrainedModel(stored["classifier"], stored["version"], stored["rows"], stored["source"], stored["sklearn"])


def read_bootstrap(path: Path = BOOTSTRAP_CSV) -> list[Row]:
    """The synthetic bootstrap rows (lines starting with # are its documentation)."""
    with path.open(newline="") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    return [(SafetyFeatures.from_dict(r), r["safe"] == "1") for r in csv.DictReader(lines)]


def load_or_train(data_dir: Path, key: bytes | None = None, rows: Sequence[Row] | None = None) -> SafetyModel:
    """The model for this service: the saved one if valid, else trained (on `rows`, or on the
    synthetic bootstrap set) and saved; the rule formula if neither is possible."""
    path = data_dir / MODEL_FILE
    if rows is None and (model := load(path, key)) is not None:
        return model
    try:
        trained = train(rows, "outcomes") if rows is not None else train(read_bootstrap(), "bootstrap")
    except (OSError, ValueError, KeyError):
        return RuleModel()
    trained.save(path, key)
    return trained


# --- the synthetic bootstrap data set ----------------------------------------------------------

BOOTSTRAP_HEADER = """\
# SYNTHETIC DATA - NOT OBSERVATIONS. Bootstrap training set for core/seekers/safety.py.
# Generated by core.seekers.safety.generate_bootstrap(n={n}, seed={seed}); regenerate with
#   python -c "from core.seekers.safety import write_bootstrap; write_bootstrap()"
# Rule: each row draws a random moment in 2025 (India time) and a random place in Tamil Nadu
# (lat 8.1-13.5, lng 76.2-80.3); sun_elevation is computed for it (core.shared.sun). good, failed and
# issues are drawn as small counts (most places have little history); busy and lit are drawn
# yes/no/unknown. The label is safe=1 with probability 1 / (1 + exp(-20 * (r - 0.55))), where r is
# the rule formula of RuleModel (0.30 daylight + 0.25 busy + 0.25 lit + 0.20 history). hour and
# weekday do not enter the label. A model trained on these rows therefore learns the rule and
# nothing more: replace them with real delivery outcomes (ScreeningRepo.outcome_rows).
"""


def generate_bootstrap(n: int = 1500, seed: int = 20_260_101) -> list[Row]:
    """Draw the synthetic rows described in BOOTSTRAP_HEADER (deterministic for n and seed)."""
    rng = random.Random(seed)
    rule = RuleModel()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows: list[Row] = []
    for _ in range(n):
        when = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
        lat, lng = rng.uniform(8.1, 13.5), rng.uniform(76.2, 80.3)
        good = min(int(rng.expovariate(1 / 4)), 40)
        failed = rng.choice((0, 0, 0, 0, 1, 1, 2, 3))
        issues = rng.choice((0, 0, 0, 0, 0, 0, 1, 2))
        features = SafetyFeatures.at(
            lat, lng, when, good=good, failed=failed, issues=issues,
            busy=rng.choice((YES, NO, UNKNOWN)), lit=rng.choice((YES, NO, UNKNOWN)),
        )  # fmt: skip
        # Centred at 0.55 (and steep) so that the rule's own pass mark (0.65: e.g. a busy, lit place at
        # night with no history) comes out above the 0.65 threshold as a probability too.
        p = 1 / (1 + math.exp(-20 * (rule.score(features) - 0.55)))
        rows.append((features, rng.random() < p))
    return rows


def write_bootstrap(path: Path = BOOTSTRAP_CSV, n: int = 1500, seed: int = 20_260_101) -> None:
    """Write the synthetic bootstrap CSV with its documentation header."""
    out = io.StringIO()
    out.write(BOOTSTRAP_HEADER.format(n=n, seed=seed))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*FEATURE_NAMES, "safe"))
    for f, safe in generate_bootstrap(n, seed):
        writer.writerow((f.hour, f.weekday, f"{f.sun_elevation:.2f}", f.good, f.failed, f.issues, f.busy, f.lit, int(safe)))
    path.write_text(out.getvalue())
