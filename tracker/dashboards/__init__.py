"""Dashboards (issue 14): the office's numbers for staff, an organization's for its advocates."""
