"""The Lark grammar of apply_patch's freeform form (a custom tool whose input is the patch).

A model that supports custom tools with grammars is constrained to produce text this grammar
accepts: the envelope in its canonical form (no padding around the markers), which
`agent.tools.patch_parse` reads like any other patch. Written for codeassist's reader: a path
starts with a character other than a blank; an Update File needs at least one hunk; a hunk's first `@@` line may be left out, the later ones may not;
`*** End of File` ends a hunk, so lines after it need a new `@@`. Only the Lark subset that
grammar-constrained sampling supports is used: literals, regular expressions without lookaround,
`?`, `*`, `+` and alternatives.
"""

from __future__ import annotations

__all__ = ["PATCH_GRAMMAR"]

PATCH_GRAMMAR = r"""
start: BEGIN NL section+ END NL?

section: add_file | delete_file | update_file

add_file: "*** Add File: " PATH NL added_line*
added_line: "+" TEXT? NL

delete_file: "*** Delete File: " PATH NL

update_file: "*** Update File: " PATH NL move_to? (hunk_lines | hunk) hunk*
move_to: "*** Move to: " PATH NL
hunk: hunk_header hunk_lines
hunk_header: "@@" NL | "@@ " TEXT NL
hunk_lines: hunk_line+ end_of_file?
hunk_line: (" " | "-" | "+") TEXT? NL
end_of_file: "*** End of File" NL

BEGIN: "*** Begin Patch"
END: "*** End Patch"
PATH: /[^ \t\r\n][^\r\n]*/
TEXT: /[^\r\n]+/
NL: "\n"
"""
"""The grammar, in Lark syntax; its start rule reads one whole patch."""
