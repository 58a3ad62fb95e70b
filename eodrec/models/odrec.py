"""OD-Rec, the paper's predecessor (Sec. 3.2.2): an STTD item table distilled from a teacher.

The student is the teacher's backbone over a semi-tensor-product tensor-train table
(:class:`~eodrec.models.sttd.STTDItemTable`, Eq. 4-10). It learns from a frozen teacher (one
direction, docs/method-notes.md §5.1) with the EODRec loss at eta = 0, since OD-Rec has no mixup and
no codes: L = L_rec + beta * L_con + gamma * L_soft, on the same hot/cold recombination. The
predictive task of OD-Rec's code (weight 0.001, docs/method-notes.md §5.3) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from eodrec.models.student import StudentConfig


@dataclass(frozen=True)
class ODRecConfig:
    """Tensor-train shapes and distillation weights. Defaults: Tmall (docs/method-notes.md §5.2)."""

    item_shape: tuple[int, int] = (169, 241)  # I1, I2 with I1 I2 >= |V| + 1
    dim_shape: tuple[int, int] = (16, 8)  # J1, J2 with J1 J2 = N
    rank: int = 60  # R: 60 on Tmall (CR 27.3), 100 on RetailRocket (CR 30.2)
    stp_n: int = 2  # n of the semi-tensor product
    beta: float = 0.2  # InfoNCE weight (OD-Rec's code)
    gamma: float = 0.3  # soft-target weight, as the EODRec student
    contrast_tau: float = 0.2
    kd_temperature: float = 1.0
    hot_fraction: float = 0.2

    def __post_init__(self) -> None:
        for name in ("item_shape", "dim_shape"):
            shape = getattr(self, name)
            if len(shape) != 2 or min(shape) < 1:
                raise ValueError(f"{name} must be two positive integers, got {shape}")
        if self.rank < 1 or self.stp_n < 1:
            raise ValueError("rank and stp_n must be positive")
        if self.beta < 0 or self.gamma < 0:
            raise ValueError("beta and gamma must be non-negative")

    def distillation(self) -> StudentConfig:
        """The joint stage's settings: frozen teacher, no mixup, these weights."""
        return StudentConfig(
            eta=0.0,
            pretrain_eta=0.0,
            beta=self.beta,
            gamma=self.gamma,
            contrast_tau=self.contrast_tau,
            kd_temperature=self.kd_temperature,
            hot_fraction=self.hot_fraction,
            freeze_teacher=True,
        )
