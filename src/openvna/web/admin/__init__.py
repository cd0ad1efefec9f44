"""The admin REST API under ``/api`` (behind the API keys like every other path)."""

from openvna.web.admin.remotes import routes

__all__ = ["routes"]
