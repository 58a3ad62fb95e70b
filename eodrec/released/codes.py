"""The codes the released pretraining saved, scored in this project with codes alone.

``main_pretrain.py`` saves, after its first epoch, the one-hot codes of every item (a NumPy
array (n_node, M, K), one Gumbel-softmax sample) and its code model, whose ``decoder.A``
(M*K, N) are the codebooks. The released repository saves no student network, so the codes are
scored with this project's student as its recipe starts (``student_init=teacher``): the
teacher's encoder, the same one the released code distilled from, over a
:class:`~eodrec.models.codes.CompositionalItemTable` holding only those codes and codebooks,
with no teacher row anywhere (as a device scores it). Two codebooks are tried: the released
ones, and the least-squares codewords of the teacher's table under the same codes
(:func:`~eodrec.models.code_learning.fit_codewords`), which tells the codes from the codebooks.

Both files are loaded with ``torch.load(weights_only=True)``; the array of codes needs NumPy's
array constructors admitted, and nothing else is.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

from eodrec.checkpoint import default_cache_dir
from eodrec.compression import coded_table_record
from eodrec.evaluate import evaluate
from eodrec.models import SessionRecommender
from eodrec.models.build import backbone_weights, build_student
from eodrec.models.code_learning import fit_codewords
from eodrec.models.student import StudentConfig
from eodrec.provenance import provenance
from eodrec.released.driver import load_teacher, released_path, sha256_file
from eodrec.released.edits import CODES_WRITTEN
from eodrec.released.source import ReleasedError
from eodrec.store import atomic_write_json

NUMPY_GLOBALS = [
    np.ndarray,
    np.dtype,
    np.dtypes.Float32DType,
    np.dtypes.Float64DType,
    getattr(np, "_core", getattr(np, "core", None)).multiarray._reconstruct,
]


def load_weights(path: Path, numpy_arrays: bool = False) -> object:
    """``torch.load(path, weights_only=True)``, NumPy arrays admitted only if asked; a file
    that is missing or asks for anything else is one :class:`ReleasedError` line."""
    try:
        with torch.serialization.safe_globals(NUMPY_GLOBALS if numpy_arrays else []):
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ReleasedError(f"no file {path}") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ReleasedError(f"{path} is not a plain array or state dict: {first[:160]}") from None


def codes_from_one_hot(one_hot: np.ndarray, n_items: int) -> torch.Tensor:
    """Codes (n_items + 1, M) from the released one-hot codes (n_node, M, K): the index of the
    one in each codebook, rows beyond ``n_items`` (ids no data uses) left out."""
    array = torch.as_tensor(np.asarray(one_hot, dtype=np.float32))
    if array.ndim != 3 or array.shape[0] < n_items + 1:
        raise ReleasedError(
            f"the codes have shape {tuple(array.shape)}; expected (at least {n_items + 1}, M, K)"
        )
    array = array[: n_items + 1]
    if not bool(((array == 0) | (array == 1)).all() and (array.sum(-1) == 1).all()):
        raise ReleasedError("the saved codes are not one-hot: one 1 per item and codebook")
    return array.argmax(dim=-1)


def student_with_codes(
    teacher: SessionRecommender, codes: torch.Tensor, codewords: torch.Tensor
) -> SessionRecommender:
    """The teacher's backbone over a table of ``codes`` (|V|+1, M) and ``codewords`` (M*K, N)
    only: this project's recipe student as it starts, in eval mode."""
    n_codebooks = codes.shape[1]
    n_codewords = codewords.shape[0] // n_codebooks
    config = StudentConfig(
        n_codebooks=n_codebooks,
        n_codewords=n_codewords,
        code_dtype="uint8" if n_codewords <= 256 else "int16",
    )
    student = build_student(teacher.n_items, teacher.config, config)
    student.load_state_dict(backbone_weights(teacher), strict=False)
    student.item_table.set_codes(codes)
    with torch.no_grad():
        student.item_table.codebooks.codewords.copy_(codewords)
    return student.eval()


def score_codes(
    teacher: SessionRecommender, codes: torch.Tensor, codebooks: dict[str, torch.Tensor], test
) -> dict:
    """Test metrics (fractions, as every result) of :func:`student_with_codes` for each set of
    ``codebooks``, with the size and codebook usage of the table."""
    scores = {}
    for name, codewords in codebooks.items():
        student = student_with_codes(teacher, codes, codewords)
        scores[name] = {"test_metrics": evaluate(student, test.sequences, test.targets)}
    return {"codebooks": scores, **coded_table_record(student.item_table, teacher.n_items)}


def import_codes(
    run_id: str,
    profile: str,
    results: Path | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> tuple[dict, Path]:
    """Score the codes of the stored released run ``run_id`` (checked against the sha256 it
    recorded) and store ``released/released-codes-...json`` beside it."""
    run_path = released_path(run_id, profile, results)
    if not run_path.is_file():
        raise ReleasedError(f"no stored released run {run_id} at {run_path}")
    run = json.loads(run_path.read_text())
    work = Path(cache_dir or default_cache_dir()) / "released" / run_id
    files = {name: work / name for name in CODES_WRITTEN}
    for name, path in files.items():
        if not path.is_file() or sha256_file(path) != run["codes"][name]:
            raise ReleasedError(f"{path} is missing or not the file run {run_id} saved")
    one_hot_file, code_model_file = files.values()
    dataset = run["dataset"]
    teacher = load_teacher(run["teacher"]["run"], profile, dataset, results, data_dir, cache_dir)
    codes = codes_from_one_hot(load_weights(one_hot_file, numpy_arrays=True), teacher.model.n_items)
    code_model = load_weights(code_model_file)
    if not isinstance(code_model, dict) or "decoder.A" not in code_model:
        raise ReleasedError(f"{code_model_file} holds no codebooks (decoder.A)")
    theirs = code_model["decoder.A"].float()
    table = teacher.model.item_table.weight().detach()
    fitted = fit_codewords(table[1:], codes[1:], theirs.shape[0] // codes.shape[1])
    test = teacher.splits["test"]
    result = {
        "id": run_id.replace("released-run-", "released-codes-", 1),
        "kind": "released-codes",
        "dataset": dataset,
        "profile": profile,
        "released_run": run_id,
        "teacher": run["teacher"]["run"],
        "scoring": "codes alone: the teacher's encoder over the codes and codebooks only",
        **score_codes(teacher.model, codes, {"released": theirs, "least_squares": fitted}, test),
        "provenance": provenance(profile, teacher.result["provenance"]["data_checksums"]),
    }
    out = run_path.with_name(f"{result['id']}.json")
    atomic_write_json(out, result)
    return result, out
