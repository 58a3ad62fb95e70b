"""eodrec: reproduction of Efficient On-Device Session-Based Recommendation (TOIS 2023)."""

__version__ = "0.1.0"
