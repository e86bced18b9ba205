"""The ``cloudfiles`` command line, a thin layer over the library."""
