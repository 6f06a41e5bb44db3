"""Voila dashboards for managers: notebook filter panels, downloads, landing page and server."""

from custops.app.landing import landing
from custops.app.panels import panel

__all__ = ["landing", "panel"]
