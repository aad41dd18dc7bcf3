"""Clemency acts (issue 14, part 1): one signed act granting one relief to a cohort of cases."""
