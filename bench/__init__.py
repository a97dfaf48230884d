"""Benchmarks of codeassist. Each prints JSON; run with `python -m bench.<name>`."""
