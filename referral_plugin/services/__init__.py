"""Use cases the edges call. Services never commit: the caller owns the transaction."""
