"""Screens pushed over the main one (pickers)."""
