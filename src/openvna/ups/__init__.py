"""The workitem service: Unified Procedure Steps (PS3.4 Annex CC) over the archive's index, with
subscriptions and events that reach every server process (``ups.events``)."""

from openvna.ups.errors import Conflict, UnknownWorkitem, ups_status
from openvna.ups.events import Event, EventType
from openvna.ups.model import FILTERED_GLOBAL, GLOBAL, UPS_PUSH, State, Tag
from openvna.ups.service import Outcome, SearchPage, Workitems, parse_search, require_ae_title

__all__ = [
    "FILTERED_GLOBAL",
    "GLOBAL",
    "UPS_PUSH",
    "Conflict",
    "Event",
    "EventType",
    "Outcome",
    "SearchPage",
    "State",
    "Tag",
    "UnknownWorkitem",
    "Workitems",
    "parse_search",
    "require_ae_title",
    "ups_status",
]
