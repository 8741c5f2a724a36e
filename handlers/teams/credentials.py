"""Reuse Bot Framework app credentials between calls, so a token is fetched once per hour.

botbuilder's credential factory builds new MicrosoftAppCredentials (and a new MSAL client, with
an empty token cache) for every connector it creates, i.e. for every inbound turn and every
proactive post, and MSAL fetches the token synchronously on the event loop. Keeping one
credentials object per (app id, scope, authority) lets MSAL's cache answer instead.
"""

from __future__ import annotations

from botframework.connector.auth import ServiceClientCredentialsFactory
from msrest.authentication import Authentication


class CachedCredentialFactory(ServiceClientCredentialsFactory):
    def __init__(self, inner: ServiceClientCredentialsFactory) -> None:
        self.inner = inner
        self._cache: dict[tuple, Authentication] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return await self.inner.is_valid_app_id(app_id)

    async def is_authentication_disabled(self) -> bool:
        return await self.inner.is_authentication_disabled()

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> Authentication:
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        credentials = self._cache.get(key)
        if credentials is None:
            credentials = await self.inner.create_credentials(app_id, oauth_scope, login_endpoint,
                                                              validate_authority)
            self._cache[key] = credentials
        return credentials
