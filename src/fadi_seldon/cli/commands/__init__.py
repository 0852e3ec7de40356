"""Sub-commands of `fadi-seldon`, one module each (see fadi_seldon.cli)."""
