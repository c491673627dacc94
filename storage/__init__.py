"""Headless storage: the SQLite session file, the call cache, keys. Never imports Textual."""
