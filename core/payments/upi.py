"""UPI payment links (NPCI's upi://pay deep link) and their QR images."""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class UpiPayee:
    """The cooperative's own UPI id and the name a payer's app shows."""

    vpa: str
    name: str


def rupees_text(paise: int) -> str:
    """Paise as the "am" field wants it: rupees with two decimals, no grouping (500.00)."""
    return f"{paise // 100}.{paise % 100:02d}"


def pay_link(payee: UpiPayee, amount: int, reference: str) -> str:
    """upi://pay?pa=…&pn=…&am=500.00&cu=INR&tn=<reference>: what a UPI app opens."""
    fields = [("pa", payee.vpa), ("pn", payee.name), ("am", rupees_text(amount)), ("cu", "INR"), ("tn", reference)]
    return "upi://pay?" + "&".join(f"{k}={quote(v, safe='@.-_')}" for k, v in fields)


def qr_png(link: str) -> bytes:
    """A PNG QR code of a link (what a phone's UPI app scans from another screen)."""
    import qrcode  # imported here: only a top-up needs it

    image = qrcode.make(link, box_size=8, border=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
