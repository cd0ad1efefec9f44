"""The environment the supervisor starts with, and so its forked processes: glibc's malloc
settings unless the operator chose others."""

from __future__ import annotations

from openvna.server.supervisor import MALLOC_SETTINGS, supervisor_environment


def test_a_process_gets_the_supervisors_environment_and_the_malloc_settings() -> None:
    environment = supervisor_environment({"PATH": "/usr/bin", "OPENVNA_X": "1"})
    assert environment == {"PATH": "/usr/bin", "OPENVNA_X": "1", **MALLOC_SETTINGS}
    assert environment["MALLOC_TRIM_THRESHOLD_"] == str(32 * 1024 * 1024)


def test_a_malloc_setting_of_the_operator_wins() -> None:
    environment = supervisor_environment({"MALLOC_TRIM_THRESHOLD_": "1048576"})
    assert environment["MALLOC_TRIM_THRESHOLD_"] == "1048576"
    assert environment["MALLOC_MMAP_THRESHOLD_"] == MALLOC_SETTINGS["MALLOC_MMAP_THRESHOLD_"]
