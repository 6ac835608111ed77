"""Scenario files shipped with trialsim (the top-level `scenarios/` folder)."""
