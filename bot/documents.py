"""Which attached documents the channels pass on as a bank statement (by type or by name)."""

from __future__ import annotations

# What banks' "download as CSV" and phones' file pickers call a CSV file.
CSV_TYPES = frozenset({"text/csv", "text/comma-separated-values", "application/csv", "text/plain", "application/vnd.ms-excel"})


def is_csv(mime_type: str | None, file_name: str | None) -> bool:
    """Whether a document looks like a CSV statement (by its type, or by its name)."""
    kind = (mime_type or "").split(";", 1)[0].strip().lower()
    return kind in CSV_TYPES or (file_name or "").lower().endswith(".csv")
