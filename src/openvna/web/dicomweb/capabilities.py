"""Placeholder: capabilities transactions (being written now)."""
