"""The ``propusk`` command line: server administration and a client for its API."""
