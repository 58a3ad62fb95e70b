"""The released scripts run as they are, but for :mod:`eodrec.released.edits`, on this CPU.

``run_released`` fetches the pinned commit, copies it into a work folder of the cache, applies
the edits, lays out the files the scripts read (this project's data and its teacher converted
to ``sas.SAS``, checked by running ``SAS`` itself), runs ``main_pretrain.py`` then
``main_student.py`` in a subprocess, reads their printed metrics back (:mod:`.log`) and stores
them, with what ran and where, as ``released/released-run-<dataset>-<profile>-<hash>.json``
beside the other results. The scripts' output and the codes they save stay in the work folder,
``$EODREC_CACHE/released/<run id>/``, where ``eodrec released import-codes`` reads the codes.
The scripts draw their initial weights before they seed anything, and torch seeds each process
at random, so a rerun of the same settings prints other numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from eodrec.checkpoint import CheckpointError, default_cache_dir
from eodrec.config import make_config, teacher_config
from eodrec.data import load_dataset, pad_batch
from eodrec.data.sessions import augment_prefixes
from eodrec.provenance import provenance
from eodrec.released.edits import (
    CODES_READ,
    CODES_WRITTEN,
    TEACHER_FILE,
    apply_edits,
    edits_digest,
)
from eodrec.released.log import complete_epochs, parse_log
from eodrec.released.source import (
    PINNED_COMMIT,
    RELEASED_REPOSITORY,
    ReleasedError,
    copy_source,
    fetch_released,
)
from eodrec.released.teacher import CHECK_SCRIPT, released_rows, sas_arguments, to_sas_state
from eodrec.runs import Run, load_run
from eodrec.store import StoreError, atomic_write_json, results_root

ENVIRONMENT = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "CUDA_VISIBLE_DEVICES": ""}
CHECK_TOLERANCE = 1e-3  # max |score difference| between SAS and this teacher, relative to 1
CODE_FOLDER = "EODRec"


def source_dir(cache_dir: Path | None = None) -> Path:
    """Where the pinned files are kept once fetched."""
    return Path(cache_dir or default_cache_dir()) / "released" / f"source-{PINNED_COMMIT[:12]}"


def released_arguments(teacher: Run, dataset: str, profile: str) -> dict[str, dict]:
    """The released scripts' command-line arguments: the teacher's shape, and the
    ``released-code`` preset's M, K, eta (0.3 in pretraining, 0.2 after), beta and gamma."""
    model = teacher.result["config"]["model"]
    student = make_config("student", dataset, profile, preset="released-code").student
    common = {
        "dataset": dataset,
        **sas_arguments(teacher.model.config),
        "hidden_dim": model["dim"],
        "code_book_len": student.n_codebooks,
        "cluster_num": student.n_codewords,
    }
    return {
        "main_pretrain.py": {**common, "eta": student.pretrain_eta},
        "main_student.py": {
            **common,
            "eta": student.eta,
            "beta": student.beta,
            "gamma": student.gamma,
        },
    }


def preset_teacher_id(dataset: str, profile: str) -> str:
    """The run id of the ``released-code`` preset's teacher for ``dataset`` and ``profile``."""
    return teacher_config(make_config("student", dataset, profile, preset="released-code")).run_id


def run_id_for(dataset: str, profile: str, settings: dict) -> str:
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return f"released-run-{dataset}-{profile}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


def released_path(run_id: str, profile: str, results: Path | None = None) -> Path:
    """Where a released run's (or its imported codes') JSON lives: ``released/`` beside the
    experiments' folders (smoke results in the cache, as every smoke result)."""
    return results_root(profile, results) / "released" / f"{run_id}.json"


def load_teacher(teacher_id: str, profile: str, dataset: str, results, data_dir, cache_dir):
    try:
        return load_run(teacher_id, results_root(profile, results), data_dir, cache_dir)
    except (StoreError, CheckpointError) as error:
        raise ReleasedError(
            f"{error} (the released code needs this teacher: eodrec train teacher --dataset "
            f"{dataset} --profile {profile} --set readout=code ffn_residual_scale=4)"
        ) from None


def interpreter_versions(python: str) -> dict[str, str]:
    """Python, torch, NumPy and numba of the interpreter that runs the released scripts; a
    missing numba (their top-k) is one line."""
    probe = (
        "import json, platform, numpy, torch\n"
        "try:\n import numba; n = numba.__version__\nexcept ImportError: n = None\n"
        "print(json.dumps({'python': platform.python_version(), 'torch': torch.__version__,"
        " 'numpy': numpy.__version__, 'numba': n}))"
    )
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=120)
        versions = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, IndexError, json.JSONDecodeError):
        raise ReleasedError(
            f"{python} cannot run the released code (needs torch and numpy)"
        ) from None
    if versions["numba"] is None:
        raise ReleasedError(
            f"the released code imports numba, which {python} lacks: {python} -m pip install numba"
        )
    return versions


def write_data(folder: Path, data) -> dict[str, str]:
    """The scripts' ``train.txt`` and ``test.txt`` from this project's data; their sha256."""
    sequences, targets, _ = augment_prefixes(data.train_sessions, longest_first=True)
    files = {
        "train.txt": (sequences, targets),
        "test.txt": (list(data.test_sequences), list(data.test_targets)),
    }
    folder.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for name, content in files.items():
        raw = pickle.dumps(content, protocol=4)
        (folder / name).write_bytes(raw)
        checksums[name] = hashlib.sha256(raw).hexdigest()
    return checksums


def write_teacher(teacher: Run, dataset: str, path: Path) -> int:
    """The teacher as ``sas.SAS``'s state dict at ``path``; returns the rows of its table."""
    rows = released_rows(dataset)
    state = to_sas_state(teacher.model.state_dict(), teacher.model.config, rows)
    torch.save(state, path)
    return rows


def check_teacher(python, code: Path, teacher: Run, rows: int, arguments: dict) -> float:
    """Max |score difference| between ``sas.SAS`` loaded with the converted teacher and this
    project's teacher, on the first 100 test sessions in eval mode; refused above tolerance."""
    test = teacher.splits["test"]
    n = min(100, len(test))
    batch = pad_batch(test.sequences[:n], test.targets[:n], range(n))
    scratch = code.parent
    np.savez(
        scratch / "check-batch.npz",
        items=batch.items.numpy(),
        lengths=batch.lengths[:, None].numpy(),
        mask=batch.mask.long().numpy(),
    )
    shape = {k: arguments[k] for k in ("hidden_units", "inner_units", "num_heads", "num_layer")}
    shape |= {"dropout_rate": arguments["dropout_rate"], "act": arguments["act"]}
    command = [python, "-c", CHECK_SCRIPT, f"../{TEACHER_FILE}"]  # -c: imports from cwd
    command += ["../check-batch.npz", "../check-scores.npy", str(rows), json.dumps(shape)]
    done = subprocess.run(
        command, cwd=code, capture_output=True, text=True, env={**os.environ, **ENVIRONMENT}
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise ReleasedError(f"sas.SAS did not load the converted teacher: {last}")
    theirs = torch.from_numpy(np.load(scratch / "check-scores.npy"))
    with torch.no_grad():
        ours = teacher.model.eval()(batch)
    difference = float((theirs[:, : ours.shape[1]] - ours).abs().max())
    if difference > CHECK_TOLERANCE * max(1.0, float(ours.abs().max())):
        raise ReleasedError(f"sas.SAS scores the converted teacher {difference:.3g} off ours")
    return difference


def run_script(python: str, code: Path, script: str, arguments: dict, epochs: int) -> dict:
    """Run one released script in ``code``; its output to ``<script>.log`` beside; its epochs."""
    command = [python, "-u", script]
    for name, value in arguments.items():
        command += [f"--{name}", str(value)]
    log = code.parent / f"{Path(script).stem}.log"
    start = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(
            command,
            cwd=code,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **ENVIRONMENT},
        )
    wall = time.perf_counter() - start
    text = log.read_text(errors="replace")
    if done.returncode != 0:
        last = (text.strip().splitlines() or ["(no output)"])[-1]
        raise ReleasedError(f"{script} failed (exit {done.returncode}): {last[:200]}; see {log}")
    epochs_seen = complete_epochs(parse_log(text))
    if len(epochs_seen) != epochs:
        raise ReleasedError(f"{script} printed {len(epochs_seen)} epochs of {epochs}; see {log}")
    return {
        "command": [Path(command[0]).name, *command[1:]],
        "epochs": epochs_seen,
        "wall_time_s": round(wall, 1),
        "log_sha256": hashlib.sha256(log.read_bytes()).hexdigest(),
    }


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_released(
    dataset: str,
    profile: str,
    pretrain_epochs: int = 1,
    student_epochs: int = 1,
    source: str = RELEASED_REPOSITORY,
    teacher_id: str | None = None,
    python: str | None = None,
    results: Path | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    rerun: bool = False,
) -> tuple[dict, Path]:
    """Run the released scripts for ``pretrain_epochs`` and ``student_epochs`` and store what
    they printed; an existing result of the same settings is returned unless ``rerun``."""
    if pretrain_epochs < 1 or student_epochs < 1:
        raise ReleasedError("the released code needs at least one epoch of each script")
    python = python or sys.executable
    teacher_id = teacher_id or preset_teacher_id(dataset, profile)
    teacher = load_teacher(teacher_id, profile, dataset, results, data_dir, cache_dir)
    arguments = released_arguments(teacher, dataset, profile)
    epochs = {"pretrain_epochs": pretrain_epochs, "student_epochs": student_epochs}
    settings = {"commit": PINNED_COMMIT, "edits": edits_digest(), "teacher": teacher_id, **epochs}
    settings["arguments"] = arguments
    run_id = run_id_for(dataset, profile, settings)
    out = released_path(run_id, profile, results)
    if out.exists() and not rerun:
        return json.loads(out.read_text()), out
    versions = interpreter_versions(python)
    work = Path(cache_dir or default_cache_dir()) / "released" / run_id
    if work.exists():  # nothing of an earlier try may pass for this run's output
        shutil.rmtree(work)
    code = copy_source(fetch_released(source_dir(cache_dir), source), work / CODE_FOLDER)
    edits = apply_edits(code, epochs)
    data = load_dataset(dataset, data_dir)
    data_files = write_data(work / "datasets" / dataset, data)
    rows = write_teacher(teacher, dataset, work / TEACHER_FILE)
    difference = check_teacher(python, code, teacher, rows, arguments["main_pretrain.py"])
    ran = run_stages(python, code, arguments, epochs)
    result = {
        "id": run_id,
        "kind": "released-run",
        "dataset": dataset,
        "profile": profile,
        "source": {"repository": RELEASED_REPOSITORY, "commit": PINNED_COMMIT},
        "settings": settings,
        "edits": edits,
        "teacher": {
            "run": teacher_id,
            "selected_epoch": teacher.result["selected_epoch"],
            "released_rows": rows,
            "rows": teacher.model.n_items + 1,
            "max_abs_score_difference_in_sas": difference,
        },
        "data_files": data_files,
        "metric_units": "percent, as printed; hit = P@K; the test set as the scripts batch it",
        **ran,
        "codes": {name: sha256_file(work / name) for name in CODES_WRITTEN},
        "provenance": provenance(profile, data.checksums, released_interpreter=versions),
    }
    atomic_write_json(out, result)
    return result, out


def run_stages(python: str, code: Path, arguments: dict, epochs: dict) -> dict[str, dict]:
    """``main_pretrain.py``, the codes it saved copied to the names the student reads, then
    ``main_student.py``; what each printed."""
    work = code.parent
    pretrain = run_script(
        python, code, "main_pretrain.py", arguments["main_pretrain.py"], epochs["pretrain_epochs"]
    )
    for written, read in zip(CODES_WRITTEN, CODES_READ, strict=True):
        if not (work / written).is_file():
            raise ReleasedError(f"main_pretrain.py wrote no {written} in {work}")
        shutil.copyfile(work / written, work / read)
    student = run_script(
        python, code, "main_student.py", arguments["main_student.py"], epochs["student_epochs"]
    )
    return {"pretrain": pretrain, "student": student}
