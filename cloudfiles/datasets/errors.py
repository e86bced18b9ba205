"""Errors of the dataset layer, beneath :class:`cloudfiles.exceptions.CloudFilesError`."""
from __future__ import annotations

from ..exceptions import CloudFilesError, IntegrityError, InvalidInputError, NotFoundError


class DatasetError(CloudFilesError):
    """Base of every dataset problem; ``problems`` lists each one when there are several."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class DatasetLayoutError(DatasetError, InvalidInputError):
    """A directory is not a valid dataset; every violation is in ``problems``."""


class DatasetNotFoundError(DatasetError, NotFoundError):
    """No such dataset, version or tag (locally or on the remote)."""


class DatasetExistsError(DatasetError):
    """The dataset, version or tag already exists and ``force`` was not given."""


class DatasetIntegrityError(DatasetError, IntegrityError):
    """Files did not match the manifest (size or sha256); each one is in ``problems``."""


def combined(cls: type, headline: str, problems: list[str]) -> DatasetError:
    """One exception whose single-line message names every problem."""
    shown = "; ".join(problems[:10])
    more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
    return cls(f"{headline}: {shown}{more}", problems)
