"""The JSON API, /api/v1: bearer-token auth, thin views, problem+json errors, OpenAPI."""
