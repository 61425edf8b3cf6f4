"""WooCommerce: webhook identify/verify/translate (and, later, the wc-auth key flow and the
REST v3 StoreClient)."""

from .connector import WooCommerceConnector

__all__ = ["WooCommerceConnector"]
