"""Placeholder: wado transactions (being written now)."""
