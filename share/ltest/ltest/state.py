"""The runtime's state in this process, in one object: what would otherwise
be a global in each module. A fork (a test process, a spare) inherits a copy.
"""


class RuntimeState:
    def __init__(self):
        self.last_result = None  # the Reply of the latest preload or run (result.py)
        self.handover_socket = None  # the kernel's end of the server's hand-over socket (handover.py)
        self.handover_loop = None  # (event loop, fd) watching that socket for runs (handover.serve)
        self.baseline_threads = None  # threads when the kernel was warm (forksafety.py)
        self.baseline_thread_ids = None  # their ids (/proc/self/task), where known (forksafety.py)
        self.practice_directory = None  # the spares' practice suite (warmup.py)
        self.module_kind = {}  # module name -> (id of the module, is it the user's code) (eviction.py)
        self.planned_eviction = None  # (len(sys.modules), names) the kernel planned before forking (eviction.py)
        self.modules_at_start = None  # sys.modules' names when a test process was set up (child.py)
        self.prediction = None  # the test process spec the next run is expected to have (spare.py)
        self.refill = None  # forks spares again, from the kernel's event loop (runner.prepare_spare)
        self.unreaped = set()  # pids of test processes the kernel's event loop reaps (reaping.py)
        self.template = None  # the kernel's template process, while it has one (template.py)
        self.from_template = False  # this test process or spare was forked from the template (template.py)
        self.cell_names = None  # the notebook names a %%ltest cell may see (magic.py)


STATE = RuntimeState()
