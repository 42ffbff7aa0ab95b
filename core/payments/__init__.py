"""Card payments held until delivery: the payment's states, the processor fee, the ledger moves."""
