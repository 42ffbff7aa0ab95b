"""Money in by UPI (top-up requests, bank statement import) and by card (held until delivery,
captured at settlement), and out (payout details, daily payouts)."""
