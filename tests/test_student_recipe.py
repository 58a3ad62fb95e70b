"""This project's student recipe (``recipe=distill-codes``): settings, codes and training."""

import pytest
import torch

from eodrec.checkpoint import load_selected_checkpoint
from eodrec.cli import _parser
from eodrec.config import ParameterError, make_config
from eodrec.data import pad_batch
from eodrec.data.toy import make_toy
from eodrec.experiment import Experiment, model_name
from eodrec.models.backbones import build_backbone
from eodrec.models.build import backbone_weights, build_student
from eodrec.models.code_learning import fixed_codes, hash_codes
from eodrec.models.student import StudentConfig
from eodrec.stages import CodeDistillStage
from eodrec.store import ResultsStore

RECIPE = ["recipe=distill-codes", "epochs=2", "checkpoint_every=10"]


def test_recipe_sets_its_settings_and_keeps_its_knobs_open():
    config = make_config("student", "Tmall", "quick", ["recipe=distill-codes", "gamma=0"])
    student = config.student
    assert (student.eta, student.beta, student.freeze_teacher) == (0.0, 0.0, True)
    assert student.code_learning == "residual-kmeans" and student.kd_temperature == 2.0
    assert student.gamma == 0.0  # a knob: overridden after the recipe
    assert model_name(config) == "distill-codes"
    assert config.run_id != make_config("student", "Tmall", "quick").run_id
    # the paper's student keeps its run id: the new fields drop out at their defaults
    assert make_config("student", "Tmall", "quick").run_id == "student-Tmall-quick-2b23e2c4bb99"


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["recipe=nope"], "choose one of: paper, distill-codes"),
        (["recipe=distill-codes", "eta=0.5"], "needs eta=0.0"),
        (["recipe=distill-codes", "freeze_teacher=false"], "needs freeze_teacher=True"),
        (["recipe=distill-codes", "code_learning=gumbel"], "fixed codes, not Gumbel"),
        (["recipe=distill-codes", "variant=base"], "no Fig. 3 variants"),
        (["student_init=fresh"], "recipe='distill-codes' only"),
    ],
)
def test_recipe_refuses_what_it_cannot_be(overrides, message):
    with pytest.raises(ParameterError, match=message):
        make_config("student", "Tmall", "quick", overrides)


def test_repeated_set_flags_add_up():
    args = _parser().parse_args(
        ["train", "student", "--dataset", "toy", "--profile", "smoke",
         "--set", "recipe=distill-codes", "--set", "gamma=0", "epochs=1"]
    )  # fmt: skip
    assert args.set == ["recipe=distill-codes", "gamma=0", "epochs=1"]


def test_hash_codes_are_seeded_random_and_fit_by_least_squares():
    X = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    codes, codewords = hash_codes(X, n_codebooks=2, n_codewords=4, seed=3)
    assert codes.shape == (500, 2) and codewords.shape == (8, 8)
    assert torch.equal(codes, hash_codes(X, 2, 4, seed=3)[0])
    assert not torch.equal(codes, hash_codes(X, 2, 4, seed=4)[0])
    _, _, errors = fixed_codes(X, "random-hash", 2, 4, seed=3)
    assert errors["mse"] <= errors["mse_of_mean"] + 1e-5  # least squares beats the mean
    _, _, kmeans = fixed_codes(X, "residual-kmeans", 2, 4, seed=3)
    assert kmeans["mse"] < errors["mse"]  # codes that know the rows fit them better


def _stage(gamma: float, temperature: float = 2.0):
    torch.manual_seed(0)
    config = make_config("student", "toy", "smoke", ["recipe=distill-codes"]).model
    settings = StudentConfig(
        n_codebooks=2, n_codewords=8, eta=0.0, beta=0.0, freeze_teacher=True,
        code_learning="residual-kmeans", recipe="distill-codes", gamma=gamma,
        kd_temperature=temperature,
    )  # fmt: skip
    teacher = build_backbone(config, 30)
    student = build_student(30, config, settings)
    stage = CodeDistillStage(student, teacher, settings, lr=1e-2, weight_decay=0.0)
    batch = pad_batch([[1, 2, 3], [4, 5], [6]], [7, 8, 9], range(3))
    return stage, batch


def test_distill_stage_adds_the_scaled_mean_kl_and_never_moves_the_teacher():
    stage, batch = _stage(gamma=0.5)
    before = {k: v.clone() for k, v in stage.teacher.state_dict().items()}
    terms = stage.losses(batch)
    without = _stage(gamma=0.0)[0].losses(batch)
    assert "kl" not in without and torch.allclose(terms["rec"], without["rec"])
    assert terms["kl"] > 0
    logged = stage.step(batch)
    assert logged["loss"] == pytest.approx(logged["rec"] + 0.5 * logged["kl"], rel=1e-6)
    after = stage.teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not stage.teacher.training


def _run(tmp_path, overrides) -> tuple[dict, dict, dict]:
    """A recipe run on the toy data, its selected model's weights and its teacher's."""
    config = make_config("student", "toy", "smoke", [*RECIPE, *overrides])
    store, cache = ResultsStore(tmp_path / "results"), tmp_path / "cache"
    result = Experiment(config, store=store, cache_dir=cache, progress=False).run()
    teacher = Experiment(make_config("teacher", "toy", "smoke"), store=store, cache_dir=cache)
    teacher_weights = load_selected_checkpoint(teacher.run(), cache)["model"]
    return result, load_selected_checkpoint(result, cache)["model"], teacher_weights


def test_recipe_student_starts_from_its_teacher_and_trains_on_codes_alone(tmp_path):
    result, student, teacher = _run(tmp_path, ["lr=0"])  # lr 0: the start is what is kept
    assert result["model"] == "distill-codes"
    assert result["code_learning"]["method"] == "residual-kmeans"
    assert "train_kl" in result["history"][0] and "train_con" not in result["history"][0]
    assert not any("mixup" in name for name in student)  # scored with its codes alone
    shared = [k for k in teacher if not k.startswith("item_table.")]
    assert shared and all(torch.equal(student[k], teacher[k]) for k in shared)
    _, fresh, _ = _run(tmp_path, ["lr=0", "student_init=fresh"])
    assert not all(torch.equal(fresh[k], teacher[k]) for k in shared)


def test_backbone_weights_leave_the_item_table_out():
    config = make_config("teacher", "toy", "smoke").model
    weights = backbone_weights(build_backbone(config, make_toy().n_items))
    assert weights and not any(name.startswith("item_table.") for name in weights)
