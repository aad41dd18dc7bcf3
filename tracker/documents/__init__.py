"""Documents attached to a case: models, storage (local directory or S3), services, views."""
