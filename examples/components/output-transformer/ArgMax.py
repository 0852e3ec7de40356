"""An output transformer for the Seldon wrapper: class probabilities in, the winning class out.

Each row of scores (e.g. examples/iris-model's three probabilities) becomes one column holding
the index of its largest value; ties go to the lowest index, as numpy's argmax does.
"""

import numpy as np


class ArgMax:
    """Seldon OUTPUT_TRANSFORMER component: the wrapper calls transform_output() on the answer of
    the node's child, on its way back to the caller."""

    def transform_output(self, X, features_names=None):
        scores = np.atleast_2d(np.asarray(X, dtype=float))
        return scores.argmax(axis=1).reshape(-1, 1)

    def class_names(self):
        return ["class_index"]
