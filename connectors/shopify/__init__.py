"""Shopify: webhook identify/verify/translate (and, later, OAuth and the GraphQL StoreClient)."""

from .connector import ShopifyConnector

__all__ = ["ShopifyConnector"]
