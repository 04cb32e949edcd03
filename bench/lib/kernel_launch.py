"""Reference for the server's start-up: how long a bare Jupyter kernel takes
to start and answer kernel_info, with jupyter_client (what `jupyter console`
and notebook servers use). Prints one JSON line {"seconds": [...]}.

Usage: /usr/bin/python3 kernel_launch.py N [KERNEL_NAME]
Set JUPYTER_RUNTIME_DIR to a temporary directory: connection files go there.
"""
import json
import sys
import time

from jupyter_client.manager import KernelManager


def launch_once(kernel_name):
    km = KernelManager(kernel_name=kernel_name)
    t0 = time.perf_counter()
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        return time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
        km.cleanup_resources()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    name = sys.argv[2] if len(sys.argv) > 2 else "python3"
    print(json.dumps({"seconds": [launch_once(name) for _ in range(n)]}), flush=True)


if __name__ == "__main__":
    main()
