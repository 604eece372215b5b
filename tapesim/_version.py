"""The package version, in a module with no imports.

Anything may import it (``tapesim.runs`` pins it in the manifest, the islandflow
export in its snapshot) without loading the rest of the package; ``pyproject.toml``
reads the version from here, so it has one home.
"""

__version__ = "0.1.0"
