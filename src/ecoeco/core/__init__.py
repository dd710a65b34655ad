"""Cross-domain building blocks: errors, pagination, domain events."""
