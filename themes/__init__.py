"""Textual themes and shared stylesheets of codeassist (filled in with the app)."""
