"""ecoeco: the backend of the Eco² waste-sorting app."""

__version__ = "0.1.0"
