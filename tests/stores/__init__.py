"""One module per storage service. Each defines ``NAME`` and a fixture named
``store_<NAME>`` that returns a :class:`tests.stores.base.Store` for a fresh,
empty location on a real server the module starts itself."""
