"""codeassist's agent core: everything that is not UI.

This package never imports textual, rich, `tui` or `themes`; a test imports it in a fresh
interpreter and checks `sys.modules` to keep it that way.
"""

__version__ = "0.1.0"
