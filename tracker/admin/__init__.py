"""Supervisors ' pages for managing users and organizations."""
