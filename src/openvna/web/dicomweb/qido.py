"""Placeholder: qido transactions (being written now)."""
