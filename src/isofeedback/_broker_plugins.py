"""amqtt plugins that apply a :class:`~isofeedback.broker.BrokerAccess` (logins and the
per-patient access list) to the embedded broker.

A module of its own, named by dotted path in the broker's configuration, so importing
:mod:`isofeedback.broker` does not import amqtt (~0.15 s) for commands that never start it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from isofeedback.broker import BrokerAccess

__all__ = ["AccessAuthPlugin", "AccessTopicPlugin"]


def _access(config: Any) -> BrokerAccess | None:
    access = getattr(config, "access", None)
    return access if isinstance(access, BrokerAccess) else None


class AccessAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Accepts exactly the logins of the configured access (anonymous ones fail)."""

    @dataclass
    class Config:
        access: Any = None

    async def authenticate(self, *, session: Session) -> bool | None:
        access = _access(self.context.config)
        return access is not None and access.authenticate(session.username, session.password)


class AccessTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Filters subscriptions, publications and deliveries by the configured access list.
    A refused subscription is answered with failure (0x80); a refused publication is
    dropped by the broker (MQTT 3.1.1 has no way to tell the publisher)."""

    @dataclass
    class Config:
        access: Any = None

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool | None:
        access = _access(self.context.config)
        if access is None or session is None or not topic or action is None:
            return False
        return access.allowed(session.username, str(action), topic)
