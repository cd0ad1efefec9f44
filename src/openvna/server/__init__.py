"""The process model of ``openvna serve``: a supervisor that binds each door's listening socket
and keeps its processes running (``supervisor``), the HTTP door's processes (``http``) and the
zero-copy HTTP protocol they run (``zerocopy``). Doors plug in as listeners."""
