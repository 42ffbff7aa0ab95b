"""Location safety: the sun, the fallback formula, the trained model, its versions and reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.seekers import safety
from core.seekers.safety import RuleModel, SafetyFeatures, explain
from core.shared.sun import daylight_level, is_daylight, solar_elevation

CHENNAI = (13.0827, 80.2707)
NOON_IST = datetime(2026, 3, 20, 6, 30, tzinfo=UTC)
MIDNIGHT_IST = datetime(2026, 3, 20, 18, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def bootstrap_model() -> safety.TrainedModel:
    return safety.train(safety.read_bootstrap(), "bootstrap")


# --- the sun ---------------------------------------------------------------------------------


def test_the_sun_stands_high_over_chennai_at_noon_and_far_below_at_midnight() -> None:
    assert solar_elevation(*CHENNAI, NOON_IST) > 70
    assert solar_elevation(*CHENNAI, MIDNIGHT_IST) < -60


def test_at_the_winter_solstice_london_noon_sun_is_90_minus_latitude_minus_tilt() -> None:
    # 12:00 UTC on 2024-12-21 at Greenwich is within a minute of solar noon.
    assert solar_elevation(51.5, 0.0, datetime(2024, 12, 21, 12, 0, tzinfo=UTC)) == pytest.approx(90 - 51.5 - 23.44, abs=0.2)


def test_chennai_is_dark_before_six_in_the_morning_and_light_by_seven() -> None:
    assert not is_daylight(*CHENNAI, datetime(2026, 3, 20, 0, 0, tzinfo=UTC))  # 05:30 IST
    assert is_daylight(*CHENNAI, datetime(2026, 3, 20, 1, 30, tzinfo=UTC))  # 07:00 IST


def test_daylight_level_runs_from_civil_twilight_to_six_degrees_up() -> None:
    assert daylight_level(-10) == 0 and daylight_level(0) == 0.5 and daylight_level(30) == 1


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError):
        solar_elevation(0, 0, datetime(2026, 1, 1))


# --- features and the fallback rule -----------------------------------------------------------


def test_features_use_indian_local_time_and_keep_no_coordinates() -> None:
    f = SafetyFeatures.at(*CHENNAI, NOON_IST, good=2, failed=1, busy=True, lit="no")
    assert (f.hour, f.weekday, f.busy, f.lit) == (12, 4, "yes", "no")
    assert set(f.as_dict()) == set(safety.FEATURE_NAMES)
    assert SafetyFeatures.from_dict(json.loads(json.dumps(f.as_dict()))) == f


def test_without_a_model_the_documented_weighted_formula_scores() -> None:
    rule = RuleModel()
    day = SafetyFeatures.at(*CHENNAI, NOON_IST, busy="yes", lit="yes")
    assert rule.score(day) == pytest.approx(0.30 + 0.25 + 0.25 + 0.20 * 0.75)
    night_busy_lit = SafetyFeatures.at(*CHENNAI, MIDNIGHT_IST, busy="yes", lit="yes")
    assert rule.score(night_busy_lit) == pytest.approx(0.65)
    night_unknown = SafetyFeatures.at(*CHENNAI, MIDNIGHT_IST)
    assert rule.score(night_unknown) == pytest.approx(0.125 + 0.125 + 0.15)
    assert rule.version == "rule-v1"


def test_the_service_falls_back_to_the_rule_when_no_model_can_be_trained(tmp_path: Path) -> None:
    model = safety.load_or_train(tmp_path, rows=[])
    assert isinstance(model, RuleModel)
    assert safety.load(tmp_path / safety.MODEL_FILE) is None


# --- reasons ---------------------------------------------------------------------------------


def test_reasons_name_darkness_a_quiet_place_no_light_and_past_incidents_in_stable_codes() -> None:
    f = SafetyFeatures.at(*CHENNAI, MIDNIGHT_IST, failed=2, issues=1, busy="no", lit="no")
    assert explain(f) == ["dark", "not_busy", "not_lit", "past_failures", "safety_reports"]
    unknown = SafetyFeatures.at(*CHENNAI, MIDNIGHT_IST)
    assert explain(unknown) == ["dark", "busy_unknown", "lit_unknown"]
    assert set(explain(f)) <= set(safety.REASONS)


def test_lighting_is_not_a_reason_in_daylight_and_a_good_record_outweighs_one_failure() -> None:
    f = SafetyFeatures.at(*CHENNAI, NOON_IST, good=20, failed=1, busy="yes", lit="no")
    assert explain(f) == []


def test_an_assessment_gives_reasons_only_below_the_threshold() -> None:
    night = SafetyFeatures.at(*CHENNAI, MIDNIGHT_IST)
    low = safety.assess(RuleModel(), night, 6_500)
    assert not low.safe and low.score_bp == 4_000 and low.reasons == ("dark", "busy_unknown", "lit_unknown")
    day = SafetyFeatures.at(*CHENNAI, NOON_IST)
    high = safety.assess(RuleModel(), day, 6_500)
    assert high.safe and high.reasons == () and high.model_version == "rule-v1"


# --- the trained model -----------------------------------------------------------------------


def test_the_bootstrap_data_is_labelled_synthetic_and_is_exactly_what_its_documented_rule_generates(
    tmp_path: Path,
) -> None:
    shipped = safety.BOOTSTRAP_CSV.read_text()
    assert shipped.startswith("# SYNTHETIC DATA - NOT OBSERVATIONS.")
    safety.write_bootstrap(tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_text() == shipped
    rows = safety.read_bootstrap()
    assert len(rows) == 1500 and 0.3 < sum(s for _, s in rows) / len(rows) < 0.7


def test_a_trained_model_scores_day_above_night_and_is_versioned_by_its_data(bootstrap_model: safety.TrainedModel) -> None:
    day = SafetyFeatures.at(*CHENNAI, NOON_IST, busy="yes", lit="yes")
    night = SafetyFeatures.at(*CHENNAI, MIDNIGHT_IST, busy="no", lit="no", failed=2)
    assert bootstrap_model.score(day) > 0.8 > 0.2 > bootstrap_model.score(night)
    assert bootstrap_model.version.startswith("gb-bootstrap-")
    rows = safety.read_bootstrap()
    assert safety.train(rows, "bootstrap").version == bootstrap_model.version  # deterministic
    assert safety.train(rows[:-1], "bootstrap").version != bootstrap_model.version


def test_training_refuses_too_few_rows_or_a_single_outcome() -> None:
    rows = safety.read_bootstrap()
    with pytest.raises(ValueError):
        safety.train(rows[:10])
    with pytest.raises(ValueError):
        safety.train([(f, True) for f, _ in rows])


def test_a_saved_model_loads_back_only_when_its_signature_matches(tmp_path: Path, bootstrap_model: safety.TrainedModel) -> None:
    path = tmp_path / safety.MODEL_FILE
    bootstrap_model.save(path, key=b"k1")
    loaded = safety.load(path, key=b"k1")
    assert loaded is not None and loaded.version == bootstrap_model.version
    probe = SafetyFeatures.at(*CHENNAI, MIDNIGHT_IST, busy="yes")
    assert loaded.score(probe) == pytest.approx(bootstrap_model.score(probe))
    assert safety.load(path, key=b"another key") is None
    path.write_bytes(path.read_bytes() + b"\0")  # tampered: never unpickled
    assert safety.load(path, key=b"k1") is None


def test_a_model_from_another_scikit_learn_version_is_retrained_not_loaded(tmp_path: Path) -> None:
    first = safety.load_or_train(tmp_path, key=b"k")
    assert isinstance(first, safety.TrainedModel) and first.source == "bootstrap"
    assert safety.load_or_train(tmp_path, key=b"k").version == first.version  # loaded, not retrained
    sidecar = tmp_path / (safety.MODEL_FILE + ".json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "sklearn": "0.0.1"}))
    assert safety.load(tmp_path / safety.MODEL_FILE, key=b"k") is None
    assert safety.load_or_train(tmp_path, key=b"k").version == first.version  # retrained, same data


def test_real_outcomes_replace_the_bootstrap_model(tmp_path: Path) -> None:
    boot = safety.load_or_train(tmp_path)
    outcomes = [(f.as_dict(), safe) for f, safe in safety.generate_bootstrap(120, seed=5)]
    model = safety.load_or_train(tmp_path, rows=[(SafetyFeatures.from_dict(f), s) for f, s in outcomes])
    assert model.version.startswith("gb-outcomes-") and model.version != boot.version
    assert safety.load(tmp_path / safety.MODEL_FILE) is not None
