"""WooCommerce: webhook identify/verify/translate, the REST v3 StoreClient (`store_client`),
webhook subscriptions and the key check (`webhooks_api`); later, the wc-auth key flow."""

from .connector import WooCommerceConnector

__all__ = ["WooCommerceConnector"]
