"""The runtime's modules that run in a test process (a fork of the kernel, a
spare before its run): turning the fork into `python -m pytest ARGS`."""
