"""Platform connectors: one sub-package per platform; no Flask, no models, no business rules."""
