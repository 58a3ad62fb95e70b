"""Shared test setup."""

import torch

# The tests use toy-sized tensors, for which one thread is fastest; several threads contend
# badly when the machine is busy (a toy training step went from ~2 ms to ~650 ms).
torch.set_num_threads(1)
