"""The runtime's state in this process, in one object: what would otherwise
be a global in each module. A fork (a test process, a spare) inherits a copy.
"""


class RuntimeState:
    def __init__(self):
        self.last_result = None  # the Reply of the latest preload or run (result.py)
        self.handover_socket = None  # the kernel's end of the server's hand-over socket (handover.py)
        self.handover_waiting = {}  # run id -> (request, fds) received while looking for another run
        self.baseline_threads = None  # threads when the kernel was warm (forksafety.py)
        self.practice_directory = None  # the spares' practice suite (warmup.py)
        self.cell_names = None  # the notebook names a %%ltest cell may see (magic.py)


STATE = RuntimeState()
