"""Secrets at rest: Fernet encryption with the ENCRYPTION_KEY from the settings."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Encrypts and decrypts secret strings (tokens, consumer secrets, webhook secrets)."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, ciphertext: str) -> str:
        """The plaintext; raises ValueError when the key does not match (rotated/wrong key)."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with ENCRYPTION_KEY") from exc
