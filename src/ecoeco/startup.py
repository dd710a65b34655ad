"""What every ``ecoeco`` command does first: read the settings, set up logging, refuse unsafe settings."""

from __future__ import annotations

import typer

from ecoeco.observability.logging import configure_logging
from ecoeco.settings import Settings, UnsafeSettingsError, get_settings


def load_settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        settings.check_production_safety()
    except UnsafeSettingsError as exc:
        typer.echo(f"refusing to start: {exc}", err=True)
        raise typer.Exit(2) from exc
    return settings
