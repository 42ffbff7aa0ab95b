"""Where the sun is: solar elevation from NOAA's general solar position formulas (pure Python).

Accurate to a fraction of a degree for years 1900–2100, which is plenty for "is it dark?".
Atmospheric refraction is not added; `is_daylight` uses the usual sunrise/sunset altitude of
−0.833° (refraction plus the sun's radius) instead.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

SUNRISE_ELEVATION = -0.833  # degrees: the sun's upper edge on the horizon
CIVIL_TWILIGHT = -6.0  # degrees: below this street lighting is needed


def solar_elevation(lat: float, lng: float, at: datetime) -> float:
    """The sun's geometric elevation above the horizon in degrees (negative at night)."""
    if at.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    at = at.astimezone(UTC)
    day_fraction = (at.hour + (at.minute + (at.second + at.microsecond / 1e6) / 60) / 60) / 24
    jd = at.toordinal() + 1_721_424.5 + day_fraction  # Julian day (ordinal 1 = 0001-01-01)
    t = (jd - 2_451_545.0) / 36_525.0  # Julian centuries since J2000.0

    mean_long = (280.46646 + t * (36_000.76983 + t * 0.0003032)) % 360.0
    mean_anom = math.radians(357.52911 + t * (35_999.05029 - 0.0001537 * t))
    ecc = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    centre = (
        math.sin(mean_anom) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + math.sin(2 * mean_anom) * (0.019993 - 0.000101 * t)
        + math.sin(3 * mean_anom) * 0.000289
    )
    omega = math.radians(125.04 - 1934.136 * t)
    app_long = math.radians(mean_long + centre - 0.00569 - 0.00478 * math.sin(omega))
    seconds = 21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))
    obliquity = math.radians(23.0 + (26.0 + seconds / 60.0) / 60.0 + 0.00256 * math.cos(omega))
    declination = math.asin(math.sin(obliquity) * math.sin(app_long))

    y = math.tan(obliquity / 2) ** 2
    l0 = math.radians(mean_long)
    eq_time = 4 * math.degrees(  # minutes
        y * math.sin(2 * l0)
        - 2 * ecc * math.sin(mean_anom)
        + 4 * ecc * y * math.sin(mean_anom) * math.cos(2 * l0)
        - 0.5 * y * y * math.sin(4 * l0)
        - 1.25 * ecc * ecc * math.sin(2 * mean_anom)
    )
    true_solar_min = (day_fraction * 1440 + eq_time + 4 * lng) % 1440
    hour_angle = math.radians(true_solar_min / 4 - 180)

    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(declination) + math.cos(phi) * math.cos(declination) * math.cos(hour_angle)
    return 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def is_daylight(lat: float, lng: float, at: datetime) -> bool:
    """True between sunrise and sunset at that place."""
    return solar_elevation(lat, lng, at) > SUNRISE_ELEVATION


def daylight_level(elevation: float) -> float:
    """0 in darkness (below civil twilight), 1 once the sun is 6° up, linear in between."""
    return max(0.0, min(1.0, (elevation - CIVIL_TWILIGHT) / 12.0))
