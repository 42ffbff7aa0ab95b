"""People's own data (DPDP Act): export (/mydata), erasure (/forget), retention."""

ERASED_CHANNEL = "erased"  # people.channel of an erased person (their address becomes their id)
FAREWELL_META = "farewell"  # outbox meta key of the last message to an erased person
