"""The HTTP side of the service other than store webhooks: admin API, health, the one JSON response shape."""
