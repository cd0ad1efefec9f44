"""UPS Event SOP Class (PS3.4 CC.2.4): the archive sends each UPS event as an N-EVENT-REPORT to
the subscribers whose address it knows (the remote node registry, ``dimse.remotes``).

A thread per DIMSE process reads the index's event channel (``openvna.ups.events``) and takes the
events no other process has taken, so each report goes out once however many DIMSE processes run.
It reads every ``POLL`` seconds while events come, and waits twice as long after each read that
finds none, up to ``POLL_IDLE``: a read costs ~0.6 ms of the process's interpreter, taken twenty
times a second from the C-STOREs of the same process (bench/RESULTS.md: this and the DUL's sleep,
``reactor``, cost two storescu associations ~8% of their throughput). The first event after a quiet
spell thus goes out within ``POLL_IDLE``; PS3.4 CC.2.4 sets no delay. Subscribers that are not
DICOM nodes (UPS-RS clients on WebSockets) are not in the registry and get theirs from the web
door. A subscriber that cannot be reached misses the event (PS3.4 CC.2.4.3 leaves retries to the
SCP; none are made).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import orjson
from pynetdicom import AE

from openvna.archive.remotes import RemoteRegistry
from openvna.dicom.json import json_to_dataset
from openvna.errors import ArchiveError
from openvna.ups import Event, Workitems

__all__ = ["POLL", "POLL_IDLE", "UPS_EVENT", "EventReporter"]

log = logging.getLogger("openvna.dimse")

POLL = 0.05  # seconds between reads of the event channel while events come
POLL_IDLE = 1.0  # at most, after reads that found none
UPS_EVENT = "1.2.840.10008.5.1.4.34.6.4"
UPS_PUSH = "1.2.840.10008.5.1.4.34.6.1"
_COMMAND = ("00000002", "00001000", "00001002")


class EventReporter:
    """The thread that sends this process's share of the N-EVENT-REPORTs, for as long as
    ``serving()`` says the SCP it belongs to is."""

    def __init__(
        self,
        ae_title: str,
        workitems: Workitems,
        remotes: RemoteRegistry,
        serving: Callable[[], bool],
    ) -> None:
        self.workitems = workitems
        self.serving = serving
        self.remotes = remotes
        self.ae = AE(ae_title)
        self.ae.add_requested_context(UPS_EVENT)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openvna-ups-events", daemon=True)

    def start(self) -> EventReporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        last = 0
        try:
            last = self.workitems.event_id_before(time.time())
        except ArchiveError as exc:
            log.warning("UPS event reports: %s", exc.message)
        pause = POLL
        while not self._stop.wait(pause) and self.serving():
            pause = min(pause * 2, POLL_IDLE)
            try:
                for event in self.workitems.claim_dimse_events(last):
                    last = max(last, event.id)
                    pause = POLL
                    self._report(event)
            except ArchiveError as exc:
                log.warning("UPS event reports: %s", exc.message)

    def _report(self, event: Event) -> None:
        message = orjson.loads(event.message)
        uid = message["00001000"]["Value"][0]
        event_type = int(message["00001002"]["Value"][0])
        information = json_to_dataset({k: v for k, v in message.items() if k not in _COMMAND})
        for ae_title in event.recipients:
            node = self.remotes.get(ae_title)
            if node is None:
                continue
            try:
                assoc = self.ae.associate(node.host, node.port, ae_title=node.aet)
                if not assoc.is_established:
                    log.warning("UPS event for %s: the association was refused", ae_title)
                    continue
                try:
                    assoc.send_n_event_report(information, event_type, UPS_PUSH, uid)
                finally:
                    assoc.release()
            except (OSError, RuntimeError, ValueError) as exc:
                log.warning("UPS event for %s not sent: %s", ae_title, exc)
