"""The Stripe adapter of the PaymentGateway port, and Stripe webhook verification (the only place
the stripe SDK is imported)."""
