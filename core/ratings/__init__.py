"""Ratings after settlement: given once per aspect, seen by the rated as an average, appealable to an admin."""
