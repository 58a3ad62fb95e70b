"""Profiles and parameter checks shared by the CLI, the notebooks and (later) the trainer.

A profile says how much compute a number cost and which data it used:

* ``smoke``: the bundled synthetic ``toy`` dataset, seconds on a laptop; what CI runs.
* ``quick``: the real datasets with every item, a bounded budget on a 2-core CPU.
* ``paper``: the paper's full settings; a GPU is advised.
"""

from __future__ import annotations

import hashlib
import json
import typing
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields

from eodrec.models.odrec import ODRecConfig
from eodrec.models.student import ABLATIONS, StudentConfig
from eodrec.models.teacher import TeacherConfig

PROFILES: dict[str, str] = {
    "smoke": "bundled synthetic toy data, seconds; for CI and first builds",
    "quick": "real data, every item, bounded budget on a 2-core CPU",
    "paper": "real data, the paper's full settings; GPU advised",
}

REAL_DATASETS = ("Tmall", "retailrocket")


class ParameterError(ValueError):
    """A bad user-facing parameter; shown as one line, also inside a notebook."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"ParameterError: {self}"]


def check_choice(name: str, value: object, allowed: Iterable[object]) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ParameterError(
            f"{name}={value!r} is not allowed; choose one of: {', '.join(map(str, allowed))}"
        )


def check_profile(profile: str) -> str:
    check_choice("profile", profile, PROFILES)
    return profile


def profile_datasets(profile: str) -> tuple[str, ...]:
    """The datasets a profile runs on: toy data for ``smoke``, the real ones otherwise."""
    return ("toy",) if check_profile(profile) == "smoke" else REAL_DATASETS


# --- experiment configuration -------------------------------------------------------------------

# Paper Sec. 6.1.3 per dataset; toy sizes keep the smoke profile to seconds.
DATASET_MODEL_SETTINGS: dict[str, dict[str, object]] = {
    "Tmall": {"dim": 128, "n_heads": 1, "dropout": 0.5},
    "retailrocket": {"dim": 256, "n_heads": 2, "dropout": 0.2},
    "toy": {"dim": 32, "n_heads": 1, "dropout": 0.2},
}


@dataclass(frozen=True)
class DataConfig:
    dataset: str
    valid_fraction: float = 0.1  # paper Sec. 6.1.1: 10% of the training set, here by session
    split_seed: int = 0  # the validation split is fixed per dataset, independent of `seed`


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 200  # upper bound; early stopping on validation usually ends sooner
    patience: int = 10  # epochs without a better validation score before stopping
    batch_size: int = 100  # paper Sec. 6.1.3
    lr: float = 1e-3  # Adam, paper Sec. 6.1.3
    weight_decay: float = 1e-5  # the paper's L2 (the authors' code uses none)
    seed: int = 0
    select_metric: str = "NDCG@10"  # validation metric that picks the checkpoint
    eval_batch_size: int = 500  # sequences scored at once against every item
    checkpoint_every: int = 500  # training steps between mid-epoch checkpoints
    max_steps_per_epoch: int = 0  # 0 = full epochs; > 0 caps an epoch (budgeted profiles)


# Training budgets per profile. `quick` is sized so the Tmall teacher trains in <= 45 minutes on
# a 2-core CPU; `paper` runs to convergence with the paper's settings.
PROFILE_TRAINING: dict[str, dict[str, object]] = {
    "smoke": {"epochs": 3, "patience": 2, "batch_size": 64, "checkpoint_every": 20},
    "quick": {"epochs": 10, "patience": 3},
    "paper": {"epochs": 200, "patience": 10},
}
# RetailRocket's epoch costs ~6x Tmall's on a 2-core CPU (5,039 steps of ~170 ms: N = 256 and
# sessions up to 285 items), so its quick budget is fewer epochs.
PROFILE_DATASET_TRAINING: dict[tuple[str, str], dict[str, object]] = {
    ("quick", "retailrocket"): {"epochs": 4},
}

# Paper Sec. 6.1.3 and 6.6: each dataset's best (M, K), eta, beta, gamma. The code-learning
# stage mixes with the same eta; ablations change only the distillation stage.
DATASET_STUDENT_SETTINGS: dict[str, dict[str, object]] = {
    "Tmall": {"n_codebooks": 4, "n_codewords": 32, "eta": 0.8, "pretrain_eta": 0.8, "beta": 0.01},
    "retailrocket": {
        "n_codebooks": 3,
        "n_codewords": 256,
        "eta": 0.7,
        "pretrain_eta": 0.7,
        "beta": 0.5,
    },
    "toy": {"n_codebooks": 4, "n_codewords": 8, "eta": 0.8, "pretrain_eta": 0.8, "beta": 0.1},
}
# The student's budgets: the code-learning stage, then the joint stage with the training budget
# below. A `quick` joint step costs ~2x a teacher step, so epochs are capped in steps.
PROFILE_STUDENT: dict[str, dict[str, object]] = {
    "smoke": {"code_epochs": 1},
    "quick": {"code_epochs": 1},
    "paper": {"code_epochs": 10},
}
PROFILE_STUDENT_TRAINING: dict[tuple[str, str], dict[str, object]] = {
    # the book's smoke pages train about fifteen toy students (ablations, audit switches)
    ("smoke", "toy"): {"epochs": 2, "max_steps_per_epoch": 100},
    ("quick", "Tmall"): {"epochs": 3, "max_steps_per_epoch": 1200},
    ("quick", "retailrocket"): {"epochs": 2, "max_steps_per_epoch": 600},
}


# A sweep point's budget where it is smaller than a single run's: `quick` sweeps must finish in
# about two hours per dataset and page on a 2-core CPU (issue: one code-learning stage per (M, K)
# of Table 4), so each point gets one epoch of the code stage and of the joint stage, capped.
PROFILE_SWEEP_TRAINING: dict[tuple[str, str], dict[str, object]] = {
    ("quick", "Tmall"): {"epochs": 1, "max_steps_per_epoch": 600},
    ("quick", "retailrocket"): {"epochs": 1, "max_steps_per_epoch": 150},
}

# Table 4's `quick` points also sample the codes of this many random items per code-learning
# step, not all |V|: the learner costs ~|V| (MK)^2 per step (at M*K = 2560, 25x more over Tmall's
# 40,727 items than over 2,048 on one CPU core), so the large (M, K) would not fit the two
# hours. Every point of the grid uses it, so the points compare with each other (not with
# Fig. 4-5's, which sample every item).
TABLE4_CODE_ITEM_BATCH: dict[str, int] = {"quick": 2048}

# OD-Rec's tensor-train shapes (METHOD-NOTES 5.2): I1 I2 >= |V| + 1, J1 J2 = N, CR ~27 and ~30.
DATASET_ODREC_SETTINGS: dict[str, dict[str, object]] = {
    "Tmall": {"item_shape": (169, 241), "dim_shape": (16, 8), "rank": 60},
    "retailrocket": {"item_shape": (117, 316), "dim_shape": (16, 16), "rank": 100},
    "toy": {"item_shape": (16, 19), "dim_shape": (8, 4), "rank": 8},
}

# Fields added after results were stored, with their defaults: left out of a config's canonical
# form at the default, so stored runs keep their names.
LATE_DEFAULTS: dict[str, dict[str, object]] = {
    "model": {"backbone": "teacher"},
    "student": {"teacher_rec": False, "code_learning": "gumbel", "code_item_batch": 0},
}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines a result; its hash names the result."""

    experiment: str
    profile: str
    data: DataConfig
    model: TeacherConfig
    train: TrainConfig
    student: StudentConfig | None = None  # set for the student only
    odrec: ODRecConfig | None = None  # set for OD-Rec only

    def to_dict(self) -> dict[str, object]:
        values = asdict(self)
        for section in ("student", "odrec"):  # absent sections keep older hashes unchanged
            if values[section] is None:
                del values[section]
        for section, defaults in LATE_DEFAULTS.items():
            for name, default in defaults.items():
                if section in values and values[section][name] == default:
                    del values[section][name]
        return values

    @classmethod
    def from_dict(cls, values: dict) -> ExperimentConfig:
        return cls(
            experiment=values["experiment"],
            profile=values["profile"],
            data=DataConfig(**values["data"]),
            model=TeacherConfig(**values["model"]),
            train=TrainConfig(**values["train"]),
            student=StudentConfig(**values["student"]) if values.get("student") else None,
            odrec=_odrec_from_dict(values["odrec"]) if values.get("odrec") else None,
        )

    def config_hash(self) -> str:
        """Stable short hash of the canonical JSON form: same config, same name, reused result."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def run_id(self) -> str:
        return f"{self.experiment}-{self.data.dataset}-{self.profile}-{self.config_hash()}"


EXPERIMENTS = ("teacher", "student", "odrec")
DISTILLED = ("student", "odrec")  # experiments that learn from a stored teacher run


def make_config(
    experiment: str, dataset: str, profile: str, overrides: Iterable[str] = ()
) -> ExperimentConfig:
    """The config of one run: the profile's defaults, then explicit ``key=value`` overrides."""
    from eodrec.data.datasets import canonical_name

    check_choice("experiment", experiment, EXPERIMENTS)
    check_profile(profile)
    try:
        dataset = canonical_name(dataset)
    except ValueError as error:
        raise ParameterError(str(error)) from None
    if profile == "smoke" and dataset != "toy":
        raise ParameterError(f"profile='smoke' runs on the toy dataset only, not {dataset!r}")
    if profile != "smoke" and dataset == "toy":
        raise ParameterError(f"dataset='toy' runs with profile='smoke' only, not {profile!r}")
    sections = {
        "data": {"dataset": dataset},
        "model": dict(DATASET_MODEL_SETTINGS[dataset]),
        "train": {
            **PROFILE_TRAINING[profile],
            **PROFILE_DATASET_TRAINING.get((profile, dataset), {}),
        },
    }
    classes = {"data": DataConfig, "model": TeacherConfig, "train": TrainConfig}
    if experiment == "student":
        sections["student"] = {**DATASET_STUDENT_SETTINGS[dataset], **PROFILE_STUDENT[profile]}
        classes["student"] = StudentConfig
    if experiment == "odrec":
        sections["odrec"] = dict(DATASET_ODREC_SETTINGS[dataset])
        classes["odrec"] = ODRecConfig
    if experiment in DISTILLED:  # the joint stage's budget
        sections["train"].update(PROFILE_STUDENT_TRAINING.get((profile, dataset), {}))
    owner = {f.name: section for section, cls in classes.items() for f in fields(cls)}
    overrides = [_split_override(item) + (item,) for item in overrides]
    # A Fig. 3 variant is a preset: its settings first, so explicit overrides can be checked
    # against it (StudentConfig rejects e.g. variant=w/o-c with beta=0.5).
    for key, value, _ in overrides:
        if key == "variant" and experiment == "student":
            check_choice("variant", value, ABLATIONS)
            sections["student"].update(ABLATIONS[value])
    for key, value, item in overrides:
        if key not in owner or key == "dataset":
            raise ParameterError(
                f"unknown setting {key!r} in {item!r}; settings: "
                f"{', '.join(sorted(k for k in owner if k != 'dataset'))}"
            )
        section = owner[key]
        sections[section][key] = _parse_value(classes[section], key, value)
    try:
        return ExperimentConfig(
            experiment,
            profile,
            DataConfig(**sections["data"]),
            TeacherConfig(**sections["model"]),
            TrainConfig(**sections["train"]),
            StudentConfig(**sections["student"]) if "student" in sections else None,
            ODRecConfig(**sections["odrec"]) if "odrec" in sections else None,
        )
    except ValueError as error:
        raise ParameterError(str(error)) from None


def teacher_config(config: ExperimentConfig) -> ExperimentConfig:
    """The teacher a student distils from: same data, profile and backbone, teacher budget."""
    if config.experiment not in DISTILLED:
        raise ValueError(f"{config.run_id} learns from no teacher")
    teacher = make_config("teacher", config.data.dataset, config.profile)
    return ExperimentConfig("teacher", config.profile, config.data, config.model, teacher.train)


def _odrec_from_dict(values: dict) -> ODRecConfig:
    """JSON stores the shapes as lists; the config holds tuples (and hashes the same)."""
    shapes = {name: tuple(values[name]) for name in ("item_shape", "dim_shape")}
    return ODRecConfig(**{**values, **shapes})


def _split_override(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ParameterError(f"override {item!r} is not of the form key=value")
    return key.strip(), value.strip()


def _parse_value(cls: type, key: str, text: str) -> object:
    """Convert ``text`` to the declared type of ``cls.key``; a wrong type is a ParameterError."""
    hint = typing.get_type_hints(cls)[key]
    args = typing.get_args(hint)
    if args and type(None) in args:  # Optional[X]
        if text.lower() in ("none", "null"):
            return None
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is tuple:  # e.g. item_shape=169,241
        try:
            return tuple(int(part) for part in text.split(","))
        except ValueError:
            raise ParameterError(
                f"{key}={text!r} is not a comma-separated list of integers"
            ) from None
    if typing.get_origin(hint) is typing.Literal:
        check_choice(key, text, typing.get_args(hint))
        return text
    try:
        if hint is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
    except ValueError:
        raise ParameterError(f"{key}={text!r} is not a valid {hint.__name__}") from None
    return text
