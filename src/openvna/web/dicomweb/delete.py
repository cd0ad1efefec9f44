"""Placeholder: delete transactions (being written now)."""
