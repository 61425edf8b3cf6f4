"""The HTTP edge for inbound platform webhooks: verify, store in the inbox, answer 200."""
