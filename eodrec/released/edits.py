"""The fewest changes that let the released code run on a CPU, as data the audit page shows.

Three kinds, all listed by :func:`released_changes`:

* **code edits** (:data:`EDITS`): string replacements in a fresh copy of the pinned files. Each
  names a few tokens and how often they must occur; an edit whose target is missing or occurs
  another number of times stops the run with one line, so no edit can silently miss or spread.
* **files placed** (:data:`LAYOUT`): the released scripts read and write fixed paths beside
  their folder (``../``); the work folder is laid out so those paths hold this run's files.
* **environment** (:data:`ENVIRONMENT`): what the subprocess runs with.

Nothing here is the released code: each edit quotes only the tokens it replaces.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from eodrec.released.source import ReleasedError


@dataclass(frozen=True)
class Edit:
    """Replace ``find`` by ``replace`` in ``file``, where ``find`` occurs exactly ``count``
    times. ``replace`` may name the run's settings in braces (``{pretrain_epochs}``)."""

    file: str
    find: str
    replace: str
    count: int
    why: str

    def apply(self, text: str, settings: dict[str, object]) -> str:
        found = text.count(self.find)
        if found != self.count:
            raise ReleasedError(
                f"edit of {self.file}: expected {self.count} occurrence(s) of {self.find!r}, "
                f"found {found}; the file is not the pinned one or was edited already"
            )
        try:
            replacement = self.replace.format_map(settings)
        except KeyError as error:
            raise ReleasedError(f"edit of {self.file} needs the setting {error}") from None
        return text.replace(self.find, replacement)


GPU_BUFFER = (
    "The rows of a batch are gathered into a tensor made on the GPU (a CUDA-only constructor); "
    "the same constructor on the CPU instead."
)
EDITS: tuple[Edit, ...] = (
    Edit(
        "module.py",
        ".uniform_().cuda()",
        ".uniform_()",
        1,
        "The code learner's Gumbel noise is moved to the GPU after it is drawn; it stays on "
        "the CPU.",
    ),
    Edit(
        "module.py",
        "self.hidden_dim), requires_grad",
        "self.hidden_dim).uniform_(-0.1, 0.1), requires_grad",
        1,
        "The codebooks A are made from uninitialised memory and never initialised; on this CPU "
        "that memory held values up to 1e34 and the first loss was NaN. U(-0.1, 0.1) instead: "
        "the paper's initialisation of every parameter (Sec. 6.1.3), and this project's.",
    ),
    Edit("student_pretrain.py", "torch.cuda.FloatTensor(", "torch.FloatTensor(", 2, GPU_BUFFER),
    Edit("student.py", "torch.cuda.FloatTensor(", "torch.FloatTensor(", 4, GPU_BUFFER),
    Edit(
        "utils.py",
        "np.asarray(data[0])",
        "np.asarray(data[0], dtype=object)",
        1,
        "NumPy >= 1.24 refuses to make an array of sessions of different lengths; the object "
        "array that older NumPy made from them (with a warning) is asked for by name.",
    ),
    Edit(
        "main_pretrain.py",
        "range(200)",
        "range({pretrain_epochs})",
        1,
        "200 epochs of code learning; the budget of this CPU instead.",
    ),
    Edit(
        "main_student.py",
        "range(200)",
        "range({student_epochs})",
        1,
        "200 epochs of joint distillation; the budget of this CPU instead.",
    ),
)

# The released scripts run in their own folder and reach these paths beside it, by name.
CODES_WRITTEN = ("sas_stu_rr_onehot_4m_256k_test03.pkl", "code_model_rr_4m_256k_test03.pkl")
CODES_READ = ("sas_stu_rr_onehot_3m_256k_test03.pkl", "code_model_rr_3m_256k_test03.pkl")
TEACHER_FILE = "sas_teacher_rr_nn.pkl"
LAYOUT: tuple[dict[str, str], ...] = (
    {
        "file": "../datasets/<dataset>/train.txt",
        "change": "written from this project's data: every training session cut into its "
        "(prefix, next item) pairs, longest prefix first, as the SR-GNN-style preprocessing "
        "writes train.txt; no validation split is held out",
        "why": "both scripts read the training pairs there; this project keeps whole sessions",
    },
    {
        "file": "../datasets/<dataset>/test.txt",
        "change": "the test split as this project loads it: (prefixes, next items)",
        "why": "both scripts read the test pairs there",
    },
    {
        "file": f"../{TEACHER_FILE}",
        "change": "this project's teacher with the released readout and FFN residual "
        "(readout=code, ffn_residual_scale=4), converted to the state dict of sas.SAS",
        "why": "both scripts load a trained teacher from there; the repository ships neither "
        "the teacher nor a script that trains it",
    },
    {
        "file": f"../{CODES_READ[0]}, ../{CODES_READ[1]}",
        "change": f"copies of ../{CODES_WRITTEN[0]} and ../{CODES_WRITTEN[1]}, made between "
        "the two scripts",
        "why": "main_pretrain.py saves the codes and the code model under '4m' names after its "
        "first epoch; main_student.py and student.py read them under '3m' names",
    },
)
ENVIRONMENT: tuple[dict[str, str], ...] = (
    {
        "file": "(environment)",
        "change": "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1",
        "why": "torch >= 2.6 loads with weights_only=True unless told otherwise, which refuses "
        "the NumPy array of codes student.py loads; PyTorch 1.6, the README's, loaded any "
        "pickle. Only files this run wrote are loaded.",
    },
    {
        "file": "(environment)",
        "change": "CUDA_VISIBLE_DEVICES= (empty)",
        "why": "the whole run on the CPU, also on a machine with a GPU",
    },
    {
        "file": "(environment)",
        "change": "Python 3.11, this project's torch (CPU) and NumPy 2, and numba",
        "why": "the README asks for Python 3.7 and PyTorch 1.6.0; sas.py, student_pretrain.py "
        "and student.py import numba for their top-k (`pip install numba`)",
    },
)


def apply_edits(folder: Path, settings: dict[str, object], edits=EDITS) -> list[dict]:
    """Apply ``edits`` to the files in ``folder`` (a fresh copy of the pinned files): every edit
    is checked before any file is written. Returns the edits as applied, for the result."""
    folder = Path(folder)
    texts: dict[str, str] = {}
    for edit in edits:
        if edit.file not in texts:
            path = folder / edit.file
            if not path.is_file():
                raise ReleasedError(f"edit of {edit.file}: no such file in {folder}")
            texts[edit.file] = path.read_text()
        texts[edit.file] = edit.apply(texts[edit.file], settings)
    for name, text in texts.items():
        (folder / name).write_text(text)
    return [{**asdict(edit), "replace": edit.replace.format_map(settings)} for edit in edits]


def edits_digest(edits=EDITS) -> str:
    """A short sha256 of the edits, part of a run's settings: other edits, another run id."""
    canonical = json.dumps([asdict(edit) for edit in edits], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def released_changes(
    pretrain_epochs: object = "E_pretrain", student_epochs: object = "E_student"
) -> list[dict[str, str]]:
    """Every change, one row each: ``kind`` (code edit, file placed, environment), ``file``,
    ``change`` and ``why``; the rows the audit page shows."""
    settings = {"pretrain_epochs": pretrain_epochs, "student_epochs": student_epochs}
    rows = [
        {
            "kind": "code edit",
            "file": edit.file,
            "change": f"{edit.find!r} -> {edit.replace.format_map(settings)!r} "
            f"({edit.count} occurrence{'s' if edit.count > 1 else ''})",
            "why": edit.why,
        }
        for edit in EDITS
    ]
    rows += [{"kind": "file placed", **row} for row in LAYOUT]
    rows += [{"kind": "environment", **row} for row in ENVIRONMENT]
    return rows
