"""Fakes that tests (and benchmarks) run against over loopback."""
