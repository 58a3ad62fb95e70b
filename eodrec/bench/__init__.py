"""Micro-benchmarks of the training and evaluation steps, kept out of the training code.

* :mod:`~eodrec.bench.train_step`: the teacher's training step against its GEMM floor;
* :mod:`~eodrec.bench.evaluation`: full-ranking evaluation against its GEMM floor;
* :mod:`~eodrec.bench.joint_step`: the student's joint step against the teacher's step;
* :mod:`~eodrec.bench.floor` and :mod:`~eodrec.bench.timing`: what they share.

Functions only; ``eodrec bench ...`` wires them up. Timings only compare within one run on one
machine. The device latency benchmark is :mod:`eodrec.latency`.
"""
