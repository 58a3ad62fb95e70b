"""Optimized autograd kernels for the training losses over the whole item catalogue.

Each kernel computes, with fewer and reused buffers, exactly what a readable definition
elsewhere states, and is tested against it (values and gradients):

* :mod:`~eodrec.kernels.softmax_ce`: the full softmax cross-entropy and the table gather,
  against ``F.cross_entropy(mask_padding(theta @ X.T))`` and plain lookups
  (:meth:`eodrec.models.base.SessionRecommender.reference_loss`);
* :mod:`~eodrec.kernels.joint_scores`: the joint step's score-matrix terms of Eq. 29, against
  :func:`eodrec.distill.joint_losses`.
"""
