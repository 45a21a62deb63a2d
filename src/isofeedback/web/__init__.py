"""The patient's app: a phone/tablet page served by the session, an ordinary client of the
documented MQTT contract (``docs/mqtt.md``), relayed over WebSockets to any broker.

The page's files are in ``static/`` (plain HTML/CSS/JS, MQTT.js vendored in
``static/vendor/``); :class:`WebServer` serves them and relays MQTT.
"""

from __future__ import annotations

from isofeedback.web.server import WebServer, print_url

__all__ = ["MQTTJS_VERSION", "WebServer", "print_url"]

#: The vendored MQTT.js browser bundle (``static/vendor/mqtt.min.js``).
MQTTJS_VERSION = "5.16.0"
