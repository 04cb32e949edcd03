"""The runtime's modules that run in the kernel process: taking runs from the
server, forking test processes and spares, preloading, the %ltest magic."""
