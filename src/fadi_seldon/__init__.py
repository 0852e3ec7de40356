"""fadi-seldon: Seldon Core for the FADI platform."""

__version__ = "0.1.0"
