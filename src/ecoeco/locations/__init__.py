"""The locations domain."""
