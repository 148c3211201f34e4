"""Flask blueprints of the service, one per concern."""
