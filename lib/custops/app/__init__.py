"""Voila dashboards for managers: notebook filter panels (``app.panels.panel``), downloads,
the landing page (``app.landing.landing``) and the Voila server (``custops dashboard``)."""
