"""The recycling domain."""
