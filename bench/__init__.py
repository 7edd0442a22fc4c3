"""`make bench`: OpenRefusal's performance figures, each beside a baseline from the same run.

Run as `python -m bench`; one module per area exposes `run(ctx) -> list[Figure]`.
"""
