"""Keep the bundled sample project out of this repository's own test runs.

`demo_project/` is the demo's sample: its test suite fails on purpose until the scripted model
fixes the bug in a temporary copy. `testpaths = ["tests"]` already keeps it out of a plain
`pytest`; this covers `pytest server/` or `pytest .` as well.
"""

collect_ignore = ["demo_project"]
