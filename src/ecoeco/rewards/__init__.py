"""Collectible characters earned by sorting correctly (see ABUSE.md for what may not earn one).

``catalog`` is the reviewed character data; ``service`` decides and grants (from the ``scan.done`` event,
through the ``api.rewards.grant`` task) and takes a reward back on a "wrong" feedback.
"""
