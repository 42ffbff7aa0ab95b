"""Money in by UPI (top-up requests, bank statement import) and out (payout details, daily payouts)."""
