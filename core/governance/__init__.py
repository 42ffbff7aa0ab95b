"""Governance: membership, proposals, seconds, votes and their self-executing close."""
