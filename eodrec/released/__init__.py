"""The authors' released code, run as it is on this CPU (beyond the paper: an audit).

The repository ``xiaxin1998/EODRec`` is fetched at a pinned commit when a user asks
(:mod:`.source`), never committed here; the fewest edits that let it run on a CPU are data
(:mod:`.edits`); this project's teacher becomes its ``sas.SAS`` teacher (:mod:`.teacher`); its two
scripts run in a subprocess and their printed metrics are stored (:mod:`.driver`, :mod:`.log`);
the codes its pretraining saves are scored here with codes alone (:mod:`.codes`). The command
line is ``eodrec released ...`` (:mod:`.commands`).
"""

from eodrec.released.edits import EDITS, released_changes
from eodrec.released.source import PINNED_COMMIT, RELEASED_REPOSITORY, ReleasedError

__all__ = ["EDITS", "PINNED_COMMIT", "RELEASED_REPOSITORY", "ReleasedError", "released_changes"]
