"""This project's teacher as a state dict of the released ``sas.SAS`` module.

The released scripts load a trained teacher that the repository neither ships nor trains. This
project's teacher with ``readout=code`` and ``ffn_residual_scale=4`` (the ``released-code``
preset's teacher) is the same network, parameter for parameter:

======================================  ==================================================
this project (``eodrec.models.teacher``)  ``sas.SAS``
======================================  ==================================================
``item_table.embedding`` (|V|+1, N)     ``embedding`` (n_node, N), padding index 0
``positions`` (300, N)                  ``position_embedding`` (300, N)
``input_norm``                          ``LayerNorm`` (eps 1e-12 in both)
``layers.i.attention.query/key/value``  ``trm_encoder.layer.i.multi_head_attention.*``
``layers.i.attention.out``              ``... multi_head_attention.dense``
``layers.i.attention_norm``             ``... multi_head_attention.LayerNorm``
``layers.i.ffn.up`` / ``.down``         ``... feed_forward.dense_1`` / ``dense_2`` (exact GELU)
``layers.i.ffn_norm``                   ``... feed_forward.LayerNorm`` (residual scaled by 4)
``readout.item_proj`` (W2, c)           ``glu1`` (applied to tanh of each state)
``readout.mean_proj`` (W1)              ``glu2`` (applied to the mean over all positions)
``readout.attention_vector`` (1, N)     ``w_2`` (N, 1), transposed
======================================  ==================================================

What differs is only what the teacher's own training never touches: ``n_node`` is fixed per
dataset in the released scripts (Tmall 40,727 + 2 rows, where the data need |V| + 1 = 40,728),
so the rows beyond ours, never an input nor a target, are set to zero; and ``SAS`` carries
hot/cold readouts and ``w_1`` matrices that only its distillation reads, which its teacher's
cross-entropy leaves at their U(-0.1, 0.1) initialisation, drawn here from the same law and a
seed. The conversion is checked on real sessions by running ``sas.SAS`` itself
(:data:`CHECK_SCRIPT`): both must give the same scores.
"""

from __future__ import annotations

import torch

from eodrec.models.base import BackboneConfig
from eodrec.released.source import ReleasedError

# n_node of the released scripts: fixed for the two datasets, 309 + 1 for any other name.
RELEASED_ROWS: dict[str, int] = {"Tmall": 40727 + 2, "retailrocket": 36972}
OTHER_ROWS = 309 + 1
RENAMES: dict[str, str] = {
    "positions.weight": "position_embedding.weight",
    "input_norm.weight": "LayerNorm.weight",
    "input_norm.bias": "LayerNorm.bias",
    "readout.item_proj.weight": "glu1.weight",
    "readout.item_proj.bias": "glu1.bias",
    "readout.mean_proj.weight": "glu2.weight",
}
LAYER_RENAMES: dict[str, str] = {
    "attention.query": "multi_head_attention.query",
    "attention.key": "multi_head_attention.key",
    "attention.value": "multi_head_attention.value",
    "attention.out": "multi_head_attention.dense",
    "attention_norm": "multi_head_attention.LayerNorm",
    "ffn.up": "feed_forward.dense_1",
    "ffn.down": "feed_forward.dense_2",
    "ffn_norm": "feed_forward.LayerNorm",
}


def released_rows(dataset: str) -> int:
    """The item table rows (n_node) the released scripts give ``dataset``."""
    return RELEASED_ROWS.get(dataset, OTHER_ROWS)


def check_teacher_config(model: BackboneConfig) -> None:
    """Refuse, in one line, a teacher that is not the network ``sas.SAS`` computes."""
    wanted = {
        "backbone": "teacher",
        "readout": "code",
        "ffn_residual_scale": 4.0,
        "max_length": 300,
    }
    for name, value in wanted.items():
        if getattr(model, name) != value:
            raise ReleasedError(
                f"the released teacher has {name}={value!r}, this teacher "
                f"{getattr(model, name)!r}: train it with --set readout=code ffn_residual_scale=4"
            )


def sas_arguments(model: BackboneConfig) -> dict[str, object]:
    """The released scripts' arguments that shape ``SAS`` for a teacher of ``model``."""
    return {
        "hidden_units": model.dim,
        "inner_units": model.inner_dim,
        "num_heads": model.n_heads,
        "num_layer": model.n_layers,
        "dropout_rate": model.dropout,
        "act": "gelu",
    }


def to_sas_state(
    state: dict[str, torch.Tensor], model: BackboneConfig, n_rows: int, seed: int = 0
) -> dict[str, torch.Tensor]:
    """The state dict of ``sas.SAS(n_rows, ...)`` equal to this project's teacher ``state``."""
    check_teacher_config(model)
    table = state["item_table.embedding.weight"]
    if table.shape[0] > n_rows:
        raise ReleasedError(
            f"the released scripts give this dataset {n_rows} item rows; the teacher has "
            f"{table.shape[0]}"
        )
    out = {"embedding.weight": torch.cat([table, table.new_zeros(n_rows - len(table), model.dim)])}
    for name, released in RENAMES.items():
        out[released] = state[name]
    out["w_2"] = state["readout.attention_vector.weight"].T.contiguous()
    for i in range(model.n_layers):
        for ours, theirs in LAYER_RENAMES.items():
            for part in ("weight", "bias"):
                out[f"trm_encoder.layer.{i}.{theirs}.{part}"] = state[f"layers.{i}.{ours}.{part}"]
    out.update(_untrained_heads(model.dim, seed))
    return {name: value.detach().clone().float() for name, value in out.items()}


def _untrained_heads(dim: int, seed: int) -> dict[str, torch.Tensor]:
    """``SAS``'s parameters that its teacher training never updates, drawn as it draws them."""
    generator = torch.Generator().manual_seed(seed)
    shapes = {"w_1": (2 * dim, dim)}
    for side in ("hot", "cold"):
        shapes |= {
            f"w_1_{side}": (2 * dim, dim),
            f"w_2_{side}": (dim, 1),
            f"glu1_{side}.weight": (dim, dim),
            f"glu1_{side}.bias": (dim,),
            f"glu2_{side}.weight": (dim, dim),
        }
    return {
        name: torch.rand(shape, generator=generator).mul_(0.2).sub_(0.1)
        for name, shape in shapes.items()
    }


# Run in the released folder by the released code's interpreter: ``sas.SAS`` built with the
# released arguments, the converted state dict loaded strictly, and its eval-mode scores of the
# sessions in a .npz saved. Arguments: teacher file, batch file, output file, rows, JSON args.
CHECK_SCRIPT = """
import json, sys
from argparse import Namespace
import numpy as np, torch
from sas import SAS
teacher, batch, out, rows, arguments = sys.argv[1:6]
model = SAS(int(rows), Namespace(lr=0.001, **json.loads(arguments)))
model.load_state_dict(torch.load(teacher, map_location="cpu"), strict=True)
model.eval()
data = np.load(batch)
with torch.no_grad():
    inputs = [torch.from_numpy(data[k]) for k in ("items", "lengths", "mask")]
    np.save(out, model.full_sort_predict(*inputs).numpy())
"""
