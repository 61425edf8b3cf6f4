"""referral-plugin: the referral-marketing backend for Shopify and WooCommerce."""
