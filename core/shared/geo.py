"""Geohash zones and great-circle distance, written here because they are twenty lines each."""

from __future__ import annotations

import math

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
EARTH_RADIUS_M = 6_371_000.0


def valid_coordinates(lat: float, lng: float) -> bool:
    """Tell whether a latitude/longitude pair is a real place on Earth."""
    return (
        math.isfinite(lat) and math.isfinite(lng) and -90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0
    )


def encode(lat: float, lng: float, precision: int = 5) -> str:
    """Encode a point as a geohash of the given precision."""
    lat_lo, lat_hi, lng_lo, lng_hi = -90.0, 90.0, -180.0, 180.0
    chars: list[str] = []
    bit, ch, even = 0, 0, True
    while len(chars) < precision:
        if even:
            mid = (lng_lo + lng_hi) / 2
            if lng >= mid:
                ch, lng_lo = ch | (16 >> bit), mid
            else:
                lng_hi = mid
        else:
            mid = (lat_lo + lat_hi) / 2
            if lat >= mid:
                ch, lat_lo = ch | (16 >> bit), mid
            else:
                lat_hi = mid
        even = not even
        if bit < 4:
            bit += 1
        else:
            chars.append(_BASE32[ch])
            bit, ch = 0, 0
    return "".join(chars)


def decode_box(geohash: str) -> tuple[float, float, float, float]:
    """Return (lat_lo, lat_hi, lng_lo, lng_hi) of a geohash cell."""
    lat_lo, lat_hi, lng_lo, lng_hi = -90.0, 90.0, -180.0, 180.0
    even = True
    for c in geohash:
        bits = _BASE32.index(c)
        for mask in (16, 8, 4, 2, 1):
            if even:
                mid = (lng_lo + lng_hi) / 2
                lng_lo, lng_hi = (mid, lng_hi) if bits & mask else (lng_lo, mid)
            else:
                mid = (lat_lo + lat_hi) / 2
                lat_lo, lat_hi = (mid, lat_hi) if bits & mask else (lat_lo, mid)
            even = not even
    return lat_lo, lat_hi, lng_lo, lng_hi


def neighbourhood(geohash: str) -> list[str]:
    """Return the cell and its eight neighbours (fewer at the poles), the cell first."""
    lat_lo, lat_hi, lng_lo, lng_hi = decode_box(geohash)
    dlat, dlng = lat_hi - lat_lo, lng_hi - lng_lo
    clat, clng = (lat_lo + lat_hi) / 2, (lng_lo + lng_hi) / 2
    cells = [geohash]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            lat = clat + dy * dlat
            if (dy, dx) == (0, 0) or not -90 < lat < 90:
                continue
            lng = (clng + dx * dlng + 180.0) % 360.0 - 180.0
            cell = encode(lat, lng, len(geohash))
            if cell not in cells:
                cells.append(cell)
    return cells


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def approximate_area(lat: float, lng: float) -> str:
    """Round a point to about a kilometre, for showing before a claim or in public stats."""
    return f"{round(lat, 2):.2f}, {round(lng, 2):.2f}"


def coarse_point(lat: float, lng: float) -> tuple[float, float]:
    """A point rounded to two decimals (about 1.1 km of latitude): what retention keeps of an
    exact place once its detail is no longer needed."""
    return round(lat, 2), round(lng, 2)
