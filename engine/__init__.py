"""Headless engine: providers, the DSPy bridge, sessions. Never imports Textual."""
