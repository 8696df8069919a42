"""Performance benchmarks of the suite itself (not part of the installed package): `python perf/speed.py`."""
