"""Allow `python -m occupancy`."""

from occupancy.cli import main

main()
