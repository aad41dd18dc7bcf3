"""Notifications: an outbox written with the audited change, delivered by e-mail and in-app."""
