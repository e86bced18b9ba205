"""Assets: parse names, validate files against specifications, stage and export them.

    from cloudfiles.assets import Database
    db = Database("assets.yaml").update()
    db.search("SELECT asset_name, asset_valid FROM assets")
    db.create(); db.export(); db.delete()
"""
from . import traits, types, validators
from .config import AssetsConfigError, load_config
from .database import Database
from .naming import NamingError
from .specification import ComplexSpecificationBase, FileSpecificationBase, SequenceSpecificationBase

__all__ = ["AssetsConfigError", "ComplexSpecificationBase", "Database", "FileSpecificationBase", "NamingError",
           "SequenceSpecificationBase", "load_config", "traits", "types", "validators"]
