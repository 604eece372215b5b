"""Test support for projects that use tapesim: the ``synthetic_run`` pytest fixture.

The plugin (:mod:`tapesim.testing.plugin`) is registered with pytest through the
``pytest11`` entry point, so installing tapesim makes the fixture available;
:class:`tapesim.testing.cache.RunCache` does the work and can be used directly.
"""
