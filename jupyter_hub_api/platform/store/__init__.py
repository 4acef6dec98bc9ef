"""Every SQL statement of the platform, in one repository class per table (or per concern).

A repository reads through the database's read connection of the calling thread and writes
through :meth:`Database.write` (the one writer thread), so callers see typed records
(``models.py``) and coroutines, never SQL. :class:`Repositories` bundles them for the platform.
"""

from __future__ import annotations

from ..db import Database
from .apis import Apis
from .invocations import Invocations
from .keys import Keys
from .logs import Logs
from .plans import Plans
from .usage import Usage
from .users import Users
from .versions import Versions

__all__ = [
    "Repositories",
    "Apis",
    "Invocations",
    "Keys",
    "Logs",
    "Plans",
    "Usage",
    "Users",
    "Versions",
]


class Repositories:
    """The repositories over one :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.users = Users(db)
        self.keys = Keys(db)
        self.versions = Versions(db)
        self.usage = Usage(db)
        self.invocations = Invocations(db)
        self.logs = Logs(db)
        self.apis = Apis(db)
        self.plans = Plans(db)
