"""codeassist's terminal UI: the Textual app, its widgets and screens.

The command line lives in `codeassist/`; it imports this package only for the commands that
open the app, so `codeassist serve` and the other headless commands start without textual.
"""
