"""Encrypts store credentials and CJ tokens at rest with a key derived from SECRET_KEY."""
from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken


class CredentialBox:
    def __init__(self, secret_key: str):
        digest = hashlib.sha256(("cj-bridge-credentials:" + secret_key).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("stored secret cannot be decrypted: was SECRET_KEY changed?") from None

    def seal_json(self, value: dict | None) -> str | None:
        return None if value is None else self.seal(json.dumps(value))

    def open_json(self, token: str | None) -> dict:
        raw = self.open(token)
        return json.loads(raw) if raw else {}
