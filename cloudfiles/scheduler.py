"""Kept for code that imports ``cloudfiles.scheduler``: the seam is :mod:`cloudfiles.runner`."""
from .runner import Runner, schedule  # noqa: F401
