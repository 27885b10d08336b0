"""yibao: core platform for China's basic medical insurance at city or province pooling level."""

__version__ = "0.1.0"
