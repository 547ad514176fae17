"""Checking against independent computations: the vectorized numpy reference, PyTorch,
the user's own code (``compare``), with a diagnosis of the classic mistakes, and
central finite differences (``gradcheck``)."""

from .compare import compare

__all__ = ["compare"]
