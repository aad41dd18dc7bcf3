"""Petitions: models, forms, views, services and queries."""
