"""Exact group-sequential designs: boundaries, spending functions and survival designs with looks."""
