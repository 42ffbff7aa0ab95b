"""Prompts: questions with options that a person can have several of open at once."""
