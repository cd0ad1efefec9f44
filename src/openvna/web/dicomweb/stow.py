"""Placeholder: stow transactions (being written now)."""
