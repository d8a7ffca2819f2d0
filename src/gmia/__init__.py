"""gmia: membership-inference audits of trained models with GMIA (Long et al., arXiv:1802.04889)."""

__version__ = "0.1.0"
