"""Browser-facing flows that are not the JSON admin API: store installs and connections."""
