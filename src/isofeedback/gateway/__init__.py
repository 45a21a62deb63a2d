"""The home gateway: the service's configuration, logging, systemd unit and ``doctor``."""
