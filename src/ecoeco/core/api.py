"""Where the HTTP API lives: every domain's router is mounted under this prefix."""

API_PREFIX = "/api/v1"
