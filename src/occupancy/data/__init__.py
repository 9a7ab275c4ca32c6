"""Raw data: the Inside Airbnb contract, parsing, validation, cleaning and synthetic data."""
