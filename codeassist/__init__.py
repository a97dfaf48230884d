"""The `codeassist` command line: one module per command, dispatched by `codeassist.main`.

`main` imports a command's module only when that command runs, so `--version`, `--help` and
each command load no more than they use.
"""
