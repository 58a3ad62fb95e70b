"""ExecuTorch bundles of the toy teacher and student give eager PyTorch's top-20.

Needs the optional ``device`` dependencies (``pip install -e '.[device]'``); skipped without them.
"""

import pytest
import torch

from eodrec.export import DeviceModel, ExportError, load_executorch, save_program, to_executorch
from eodrec.models.backbones import build_backbone
from eodrec.models.student import StudentConfig, build_student
from eodrec.models.teacher import TeacherConfig
from tests.test_models import make_batch

pytest.importorskip("executorch")

N_ITEMS = 300
CONFIG = TeacherConfig(dim=16, n_heads=1, dropout=0.0)
ITEMS = make_batch([[1, 2, 3], [4, 5, 6, 7, 8], [9], [10, 11]], [1, 1, 1, 1]).items


@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_bundle_ranks_like_eager_pytorch(tmp_path, kind):
    torch.manual_seed(0)
    if kind == "teacher":
        model = build_backbone(CONFIG, N_ITEMS)
    else:
        model = build_student(N_ITEMS, CONFIG, StudentConfig(n_codebooks=4, n_codewords=8))
    path = save_program(to_executorch(model, ITEMS), tmp_path / f"{kind}.pte")
    values, ids = load_executorch(path).execute([ITEMS])
    with torch.no_grad():
        expected_values, expected_ids = DeviceModel(model)(ITEMS)
    assert torch.allclose(values, expected_values, atol=1e-5)
    assert torch.equal(ids, expected_ids)
    assert (ids > 0).all()  # the padding id is never recommended


def test_a_missing_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(ExportError, match="no ExecuTorch program"):
        load_executorch(tmp_path / "nothing.pte")
