"""The waste domain's logic, one module per sub-resource (no SQL here: see ecoeco.waste.repository).

``account`` is imported here so that its ``user.deleted`` subscriber is registered wherever the domain is.
"""

from ecoeco.waste.service import account as account
