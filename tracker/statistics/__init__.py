"""Fiscal-year statistics like the Office of the Pardon Attorney's (issue 14), staff and public."""
