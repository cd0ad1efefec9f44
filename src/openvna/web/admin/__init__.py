"""The admin REST API under ``/api`` (behind the API keys like every other path)."""

from openvna.web.admin import jobs, remotes, scu

__all__ = ["routes"]

routes = [*remotes.routes, *scu.routes, *jobs.routes]
