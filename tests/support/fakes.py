"""Fixtures for fake third-party servers (IdPs, OpenAI-compatible API) live here as they are added."""
