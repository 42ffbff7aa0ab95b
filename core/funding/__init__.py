"""Money given ahead of an order: pledges (and, later, campaigns) and how orders draw on them."""
