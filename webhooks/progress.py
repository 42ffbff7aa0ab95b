"""Progress bars for long commands: shown on a terminal, silent when the output is piped or logged."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm


def progress(total: int | None, desc: str, unit: str = "it", stream: TextIO | None = None) -> tqdm[None]:
    """A bar on standard error when it is a terminal; a silent no-op otherwise (cron, CI, pipes)."""
    out = stream or sys.stderr
    return tqdm(total=total, desc=desc, unit=unit, file=out, disable=not out.isatty(), leave=False, dynamic_ncols=True,
                unit_scale=True, mininterval=0.2)  # fmt: skip
