"""Bank statement CSV files: three layouts read into credit rows (amounts in paise).

Layouts (column names as the banks' net-banking CSV exports write them):
- HDFC Bank: Date, Narration, Chq./Ref.No., Value Dt, Withdrawal Amt., Deposit Amt., Closing Balance
  (dates dd/mm/yy);
- State Bank of India: Txn Date, Value Date, Description, Ref No./Cheque No., Debit, Credit, Balance
  (dates "15 Jan 2024");
- plain: date, amount, reference, txn_id (ISO dates, amount in rupees).
Banks put account details above the header line: everything before the header is skipped."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from core.ledger.model import MAX_POSTING

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
MAX_TXN_ID = 64
TXN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.:-]*")
AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


@dataclass(frozen=True)
class Layout:
    """Which columns of one bank's export hold what we need."""

    name: str
    header: tuple[str, ...]  # the header line, lower-cased, as the bank writes it
    date: str
    narration: str
    txn_id: str
    credit: str
    debit: str | None  # None: one signed amount column
    date_formats: tuple[str, ...]


LAYOUTS = (
    Layout("hdfc", ("date", "narration", "chq./ref.no.", "value dt", "withdrawal amt.", "deposit amt.", "closing balance"),
           "date", "narration", "chq./ref.no.", "deposit amt.", "withdrawal amt.", ("%d/%m/%y", "%d/%m/%Y")),
    Layout("sbi", ("txn date", "value date", "description", "ref no./cheque no.", "debit", "credit", "balance"),
           "txn date", "description", "ref no./cheque no.", "credit", "debit", ("%d %b %Y", "%d-%b-%y", "%d-%b-%Y")),
    Layout("plain", ("date", "amount", "reference", "txn_id"), "date", "reference", "txn_id", "amount", None,
           ("%Y-%m-%d",)),
)  # fmt: skip


@dataclass(frozen=True)
class CreditRow:
    """A credit to the cooperative's account found in a statement."""

    line: int
    txn_id: str
    date: str  # ISO
    amount: int  # paise, > 0
    narration: str


@dataclass
class Statement:
    """A statement read: its layout, its credit rows, and what could not be read (line, why)."""

    layout: str
    credits: list[CreditRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    debits_skipped: int = 0


class UnreadableStatement(ValueError):
    """The file is not a statement in a known layout (or is too large, or not text)."""


def _paise(text: str) -> int | None:
    """Rupees as a bank writes them ("1,234.50", "₹500") in paise; None if blank; ValueError if bad."""
    cleaned = text.replace(",", "").replace("₹", "").replace("INR", "").strip()
    if not cleaned:
        return None
    negative = cleaned.startswith("-")
    digits = cleaned.lstrip("-").strip()
    if not AMOUNT.fullmatch(digits):
        raise ValueError("amount")
    try:
        value = int(Decimal(digits) * 100)
    except InvalidOperation as exc:
        raise ValueError("amount") from exc
    if value > MAX_POSTING:
        raise ValueError("amount")
    return -value if negative else value


def _date(text: str, formats: tuple[str, ...]) -> str:
    for fmt in formats:
        try:
            return datetime.strptime(text.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError("date")


def _find_layout(rows: list[list[str]]) -> tuple[Layout, int]:
    for index, row in enumerate(rows[:40]):
        cells = tuple(c.strip().lower() for c in row if c.strip())
        for layout in LAYOUTS:
            if cells == layout.header:
                return layout, index
    raise UnreadableStatement("no header of a known layout (HDFC, SBI, or date,amount,reference,txn_id)")


def read_statement(data: bytes) -> Statement:
    """Parse a statement file; rows that cannot be read are listed, never guessed at."""
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableStatement("the file is larger than 5 MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableStatement("the file is not UTF-8 text") from exc
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) > MAX_ROWS:
        raise UnreadableStatement(f"more than {MAX_ROWS} lines")
    layout, header_at = _find_layout(rows)
    columns = [c.strip().lower() for c in rows[header_at]]
    out = Statement(layout.name)
    for number, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < len(columns):
            if out.credits or out.errors:  # banks close with a summary or a footer line
                out.errors.append((number, "columns"))
            continue
        cell = dict(zip(columns, row, strict=False))
        try:
            out_row = _credit(layout, cell, number)
        except ValueError as exc:
            out.errors.append((number, str(exc)))
            continue
        if out_row is None:
            out.debits_skipped += 1
        else:
            out.credits.append(out_row)
    return out


def _credit(layout: Layout, cell: dict[str, str], number: int) -> CreditRow | None:
    """One data row as a credit; None for a debit (money that left: not a top-up)."""
    txn_id = cell[layout.txn_id].strip()
    if not TXN_ID.fullmatch(txn_id) or len(txn_id) > MAX_TXN_ID:
        raise ValueError("txn_id")
    day = _date(cell[layout.date], layout.date_formats)
    if date.fromisoformat(day).year < 2000:
        raise ValueError("date")
    credit = _paise(cell[layout.credit])
    debit = _paise(cell[layout.debit]) if layout.debit else None
    if layout.debit is not None:
        if debit and credit:
            raise ValueError("both")
        if debit is not None and debit < 0 or credit is not None and credit < 0:
            raise ValueError("negative")
        if not credit:
            return None
    elif credit is None or credit <= 0:
        raise ValueError("negative" if credit is not None and credit < 0 else "amount")
    narration = " ".join(cell[layout.narration].split())[:500]
    return CreditRow(number, txn_id, day, credit, narration)
