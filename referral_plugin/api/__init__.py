"""Flask blueprints: health, the admin JSON API, and their error handling."""
