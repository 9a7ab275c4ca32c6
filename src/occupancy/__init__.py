"""occupancy: predict the occupancy level of short-term rental listings, end to end."""

__version__ = "0.1.0"
