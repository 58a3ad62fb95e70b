"""Profiles and parameter checks shared by the CLI, the notebooks and (later) the trainer.

A profile says how much compute a number cost and which data it used:

* ``smoke``: the bundled synthetic ``toy`` dataset, seconds on a laptop; what CI runs.
* ``quick``: the real datasets with every item, a bounded budget on a 2-core CPU.
* ``paper``: the paper's full settings; a GPU is advised.
"""

from __future__ import annotations

import hashlib
import json
import os
import typing
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace

from eodrec.data.files import DATASETS, resolve_data_dir
from eodrec.data.names import REAL_DATASETS, SYNTHETIC, check_dataset
from eodrec.heuristics.config import METHODS, BaselineConfig, default_settings
from eodrec.models.base import BackboneConfig
from eodrec.models.odrec import ODRecConfig
from eodrec.models.quantize import QuantizeConfig
from eodrec.models.repeat import RepeatConfig
from eodrec.models.student import ABLATIONS, RECIPES, StudentConfig
from eodrec.presets import PRESETS

PROFILES: dict[str, str] = {
    "smoke": "bundled synthetic toy data, seconds; for CI and first builds",
    "quick": "real data, every item, bounded budget on a 2-core CPU",
    "paper": "real data, the paper's full settings; GPU advised",
}


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


PROFILE_ENV = "EODREC_PROFILE"


def default_profile(data_dir: str | os.PathLike[str] | None = None) -> str:
    """The one default-profile rule, shared by the Makefile, the CLI and the notebooks:
    ``$EODREC_PROFILE`` if set, else ``quick`` where every real dataset's files are in the data
    directory, else ``smoke`` (the bundled toy data)."""
    if os.environ.get(PROFILE_ENV):
        return check_profile(os.environ[PROFILE_ENV])
    root = resolve_data_dir(data_dir)
    present = all(
        (root / entry.relpath).is_file() for name in REAL_DATASETS for entry in DATASETS[name].files
    )
    return "quick" if present else "smoke"


def profile_datasets(profile: str) -> tuple[str, ...]:
    """The datasets a profile runs on: toy data for ``smoke``, the real ones otherwise."""
    return (SYNTHETIC,) if check_profile(profile) == "smoke" else REAL_DATASETS


# --- what each dataset trains with, and how much each profile trains on it ----------------------


@dataclass(frozen=True)
class DatasetSettings:
    """The paper's per-dataset settings (Sec. 6.1.3, 6.6); toy sizes keep ``smoke`` to seconds."""

    model: Mapping[str, object]  # BackboneConfig fields
    student: Mapping[str, object]  # StudentConfig fields: the best (M, K), eta, beta
    odrec: Mapping[str, object]  # OD-Rec's tensor-train shapes (I1 I2 >= |V| + 1, J1 J2 = N)


# The code-learning stage mixes with the same eta; ablations change only the distillation stage.
# OD-Rec's shapes give CR ~27 (Tmall) and ~30 (RetailRocket).
DATASET_SETTINGS: dict[str, DatasetSettings] = {
    "Tmall": DatasetSettings(
        model={"dim": 128, "n_heads": 1, "dropout": 0.5},
        student={
            "n_codebooks": 4,
            "n_codewords": 32,
            "eta": 0.8,
            "pretrain_eta": 0.8,
            "beta": 0.01,
        },
        odrec={"item_shape": (169, 241), "dim_shape": (16, 8), "rank": 60},
    ),
    "retailrocket": DatasetSettings(
        model={"dim": 256, "n_heads": 2, "dropout": 0.2},
        student={
            "n_codebooks": 3,
            "n_codewords": 256,
            "eta": 0.7,
            "pretrain_eta": 0.7,
            "beta": 0.5,
        },
        odrec={"item_shape": (117, 316), "dim_shape": (16, 16), "rank": 100},
    ),
    "toy": DatasetSettings(
        model={"dim": 32, "n_heads": 1, "dropout": 0.2},
        student={"n_codebooks": 4, "n_codewords": 8, "eta": 0.8, "pretrain_eta": 0.8, "beta": 0.1},
        odrec={"item_shape": (16, 19), "dim_shape": (8, 4), "rank": 8},
    ),
}


@dataclass(frozen=True)
class Budget:
    """How much one profile trains on one dataset.

    ``train`` is every run's TrainConfig budget; a distilled run (student, OD-Rec) adds
    ``joint`` for its joint stage, and a sweep point adds ``sweep`` on top of that.
    ``code_epochs`` bounds the student's code-learning stage; ``code_item_batch`` (Table 4's
    sweeps only) samples that many items' codes per code-learning step, not all |V|.
    """

    train: Mapping[str, object]
    code_epochs: int
    joint: Mapping[str, object] = field(default_factory=dict)
    sweep: Mapping[str, object] = field(default_factory=dict)
    table4_code_item_batch: int = 0


_QUICK, _PAPER = {"epochs": 10, "patience": 3}, {"epochs": 200, "patience": 10}
# `quick` is sized so the Tmall teacher trains in <= 45 minutes on a 2-core CPU; RetailRocket's
# epoch costs ~6x Tmall's there (N = 256, sessions up to 285 items), so it gets fewer epochs. A
# `quick` joint step costs ~2x a teacher step, so its epochs are capped in steps. `quick` sweeps
# must finish in about two hours per dataset and page: one epoch of each stage, capped, and
# Table 4's code steps sample 2,048 items (the learner costs ~|V| (MK)^2 per step), so its
# points compare with each other, not with Fig. 4-5's. `paper` runs to convergence.
BUDGETS: dict[tuple[str, str], Budget] = {
    ("smoke", "toy"): Budget(
        train={"epochs": 3, "patience": 2, "batch_size": 64, "checkpoint_every": 20},
        code_epochs=1,
        # the book's smoke pages train about fifteen toy students (ablations, audit switches)
        joint={"epochs": 2, "max_steps_per_epoch": 100},
    ),
    ("quick", "Tmall"): Budget(
        train=_QUICK,
        code_epochs=1,
        joint={"epochs": 3, "max_steps_per_epoch": 1200},
        sweep={"epochs": 1, "max_steps_per_epoch": 600},
        table4_code_item_batch=2048,
    ),
    ("quick", "retailrocket"): Budget(
        train={**_QUICK, "epochs": 4},
        code_epochs=1,
        joint={"epochs": 2, "max_steps_per_epoch": 600},
        sweep={"epochs": 1, "max_steps_per_epoch": 150},
        table4_code_item_batch=2048,
    ),
    ("paper", "Tmall"): Budget(train=_PAPER, code_epochs=10),
    ("paper", "retailrocket"): Budget(train=_PAPER, code_epochs=10),
}


def budget(profile: str, dataset: str) -> Budget:
    """The budget of ``profile`` on ``dataset``; a pair that does not go together is refused."""
    check_profile(profile)
    check_dataset(dataset)
    if (profile, dataset) not in BUDGETS:
        allowed = profile_datasets(profile)
        raise ParameterError(
            f"profile={profile!r} runs on the {', '.join(allowed)} "
            f"dataset{'s' if len(allowed) > 1 else ''} only, not {dataset!r}"
        )
    return BUDGETS[profile, dataset]


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


# Fields added after results were stored, with their defaults: left out of a config's canonical
# form at the default, so stored runs keep their names.
LATE_DEFAULTS: dict[str, dict[str, object]] = {
    "model": {"backbone": "teacher"},
    "student": {
        "teacher_rec": False,
        "code_learning": "gumbel",
        "code_item_batch": 0,
        "recipe": "paper",
        "student_init": "teacher",
        "frozen_teacher_dropout": False,
        "reset_code_optimizer": False,
        "code_learner_padding_row": False,
        "teacher_ffn_residual_scale": None,
    },
}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines a result; its hash names the result."""

    experiment: str
    profile: str
    data: DataConfig
    model: BackboneConfig | None = None  # None for a baseline only: it has no network
    train: TrainConfig | None = None  # None for a baseline only: it has no training loop
    student: StudentConfig | None = None  # set for the student only
    odrec: ODRecConfig | None = None  # set for OD-Rec only
    baseline: BaselineConfig | None = None  # set for a baseline only
    repeat: RepeatConfig | None = None  # set for a model with the repeat mechanism
    quantize: QuantizeConfig | None = None  # set for a teacher whose table is quantized after
    preset: str | None = None  # the named bundle of settings it was made with (eodrec.presets)

    def to_dict(self) -> dict[str, object]:
        values = asdict(self)
        for section in (*OPTIONAL_SECTIONS, "preset"):  # absent: older hashes unchanged
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
            model=BackboneConfig(**values["model"]) if values.get("model") else None,
            train=TrainConfig(**values["train"]) if values.get("train") else None,
            student=StudentConfig(**values["student"]) if values.get("student") else None,
            odrec=_odrec_from_dict(values["odrec"]) if values.get("odrec") else None,
            baseline=BaselineConfig.from_dict(values["baseline"])
            if values.get("baseline")
            else None,
            repeat=RepeatConfig.from_dict(values["repeat"]) if values.get("repeat") else None,
            quantize=QuantizeConfig(**values["quantize"]) if values.get("quantize") else None,
            preset=values.get("preset"),
        )

    def config_hash(self) -> str:
        """Stable short hash of the canonical JSON form: same config, same name, reused result."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def run_id(self) -> str:
        return f"{self.experiment}-{self.data.dataset}-{self.profile}-{self.config_hash()}"


OPTIONAL_SECTIONS = ("model", "train", "student", "odrec", "baseline", "repeat", "quantize")
EXPERIMENTS = ("teacher", "student", "odrec", "baseline")
DISTILLED = ("student", "odrec")  # experiments that learn from a stored teacher run


def make_config(
    experiment: str,
    dataset: str,
    profile: str,
    overrides: Iterable[str] = (),
    preset: str | None = None,
    **settings: object,
) -> ExperimentConfig:
    """The config of one run: the profile's budget and the dataset's settings, then the
    ``preset``'s (:data:`eodrec.presets.PRESETS`), ``settings`` (typed values, from code) and
    ``overrides`` (``key=value`` text, from a user), in that order. The preset's name is part of
    the config, so its runs have ids of their own.

    ``dataset`` is a canonical name (:func:`eodrec.data.canonical_name` turns user input into one).
    """
    check_choice("experiment", experiment, EXPERIMENTS)
    bundle = preset_settings(preset, experiment)
    try:
        plan = budget(profile, dataset)
    except ValueError as error:
        raise ParameterError(str(error)) from None
    defaults = DATASET_SETTINGS[dataset]
    sections = {
        "data": {"dataset": dataset},
        "model": dict(defaults.model),
        "train": dict(plan.train),
    }
    classes: dict[str, type] = {"data": DataConfig, "model": BackboneConfig, "train": TrainConfig}
    if experiment == "student":
        sections["student"] = {**defaults.student, "code_epochs": plan.code_epochs}
        classes["student"] = StudentConfig
    if experiment == "odrec":
        sections["odrec"] = dict(defaults.odrec)
        classes["odrec"] = ODRecConfig
    if experiment in DISTILLED:  # the joint stage's budget
        sections["train"].update(plan.joint)
    typed = {**bundle, **settings}
    changes = [(key, value, f"{key}={value!r}") for key, value in typed.items()]
    changes += [_split_override(item) + (item,) for item in overrides]
    if experiment == "baseline":  # no network, no training: the data and the method's grid
        method = next((value for key, value, _ in changes if key == "method"), None)
        check_choice("method", method, METHODS)
        sections = {"data": sections["data"], "baseline": default_settings(method)}
        classes = {"data": DataConfig, "baseline": BaselineConfig}
    changes = _after_training_sections(experiment, changes, sections, classes)
    owner = {f.name: section for section, cls in classes.items() for f in fields(cls)}
    # A Fig. 3 variant is a preset: its settings first, so explicit overrides can be checked
    # against it (StudentConfig rejects e.g. variant=w/o-c with beta=0.5). So is the student
    # recipe: its settings first, its knobs overridable.
    bundles = {"variant": ABLATIONS, "recipe": RECIPES}
    for key, value, _ in changes:
        if key in bundles and experiment == "student":
            check_choice(key, value, bundles[key])
            sections["student"].update(bundles[key][value])
    for key, value, item in changes:
        if key not in owner or key == "dataset":
            raise ParameterError(
                f"unknown setting {key!r} in {item!r}; settings: "
                f"{', '.join(sorted(k for k in owner if k != 'dataset'))}"
            )
        section = owner[key]
        convert = _parse_value if isinstance(value, str) else _check_value
        sections[section][key] = convert(classes[section], key, value)
    try:
        return ExperimentConfig(
            experiment,
            profile,
            **{section: classes[section](**values) for section, values in sections.items()},
            preset=preset,
        )
    except ValueError as error:
        raise ParameterError(str(error)) from None


def preset_settings(preset: str | None, experiment: str) -> dict[str, object]:
    """The settings of ``preset`` (none for ``None``); an unknown name, or a preset for another
    kind of run than the student, is a one-line ParameterError."""
    if preset is None:
        return {}
    check_choice("preset", preset, PRESETS)
    if experiment != "student":
        raise ParameterError(f"preset {preset!r} applies to student runs, not to {experiment}")
    return dict(PRESETS[preset])


def _after_training_sections(experiment: str, changes: list, sections: dict, classes: dict):
    """Add the sections of what changes a trained model after training (the repeat mechanism,
    a quantized table), each its own run; returns the changes less the ``repeat`` switch."""
    if _repeat_switch(changes):
        if experiment == "baseline":
            raise ParameterError("repeat=true applies to trained models, not to a baseline")
        sections["repeat"], classes["repeat"] = {}, RepeatConfig
    if any(key == "table_bits" for key, _, _ in changes):
        if experiment != "teacher":
            raise ParameterError("table_bits quantizes a trained teacher's full item table")
        sections["quantize"], classes["quantize"] = {}, QuantizeConfig
    return [change for change in changes if change[0] != "repeat"]


def _repeat_switch(changes: list[tuple[str, object, str]]) -> bool:
    """Whether ``repeat=true`` is among the changes (the last one says)."""
    switch = False
    for key, value, item in changes:
        if key == "repeat":
            text = str(value).lower()
            if text not in ("true", "false", "1", "0"):
                raise ParameterError(f"{item!r}: repeat takes true or false")
            switch = text in ("true", "1")
    return switch


def teacher_config(config: ExperimentConfig) -> ExperimentConfig:
    """The teacher a student distils from: same data, profile and backbone (with the student's
    ``teacher_ffn_residual_scale`` where set), teacher budget."""
    if config.experiment not in DISTILLED:
        raise ValueError(f"{config.run_id} learns from no teacher")
    teacher = make_config("teacher", config.data.dataset, config.profile)
    model = config.model
    scale = config.student.teacher_ffn_residual_scale if config.student else None
    if scale is not None:
        model = replace(model, ffn_residual_scale=scale)
    return ExperimentConfig("teacher", config.profile, config.data, model, teacher.train)


def _odrec_from_dict(values: dict) -> ODRecConfig:
    """JSON stores the shapes as lists; the config holds tuples (and hashes the same)."""
    shapes = {name: tuple(values[name]) for name in ("item_shape", "dim_shape")}
    return ODRecConfig(**{**values, **shapes})


def _split_override(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ParameterError(f"override {item!r} is not of the form key=value")
    return key.strip(), value.strip()


def _check_value(cls: type, key: str, value: object) -> object:
    """A typed setting from code: accepted as it is when it has the declared type of ``cls.key``
    (an int where a float is declared, a list where a tuple is), else a ParameterError."""
    hint = typing.get_type_hints(cls)[key]
    args = typing.get_args(hint)
    if value is None and type(None) in args:
        return None
    if args and type(None) in args:
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is tuple and isinstance(value, tuple | list):
        return tuple(value)
    if typing.get_origin(hint) is typing.Literal:
        check_choice(key, value, typing.get_args(hint))
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if (
        isinstance(hint, type)
        and isinstance(value, hint)
        and (hint is bool) == (type(value) is bool)
    ):
        return value
    raise ParameterError(f"{key}={value!r} is not a valid {getattr(hint, '__name__', hint)}")


def _parse_value(cls: type, key: str, text: str) -> object:
    """Convert ``text`` to the declared type of ``cls.key``; a wrong type is a ParameterError."""
    hint = typing.get_type_hints(cls)[key]
    args = typing.get_args(hint)
    if args and type(None) in args:  # Optional[X]
        if text.lower() in ("none", "null"):
            return None
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is tuple:  # e.g. item_shape=169,241
        kind = typing.get_args(hint)[0]
        try:
            return tuple(kind(part) for part in text.split(","))
        except ValueError:
            raise ParameterError(
                f"{key}={text!r} is not a comma-separated list of {kind.__name__}s"
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
