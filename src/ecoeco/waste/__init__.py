"""The waste domain."""
