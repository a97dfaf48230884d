"""codeassist's terminal UI and command-line entry point.

The Textual app itself is imported lazily by the commands that open it, so `codeassist serve`
and other headless commands start without loading textual.
"""
