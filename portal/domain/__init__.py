"""Domain layer: models and the services that change them; no Flask request objects here."""
