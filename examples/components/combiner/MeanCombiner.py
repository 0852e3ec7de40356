"""A combiner for the Seldon wrapper: the element-wise mean of its children's answers (an ensemble).

Every child must answer with the same shape, e.g. one row of class probabilities per request row.
"""

import numpy as np


class MeanCombiner:
    """Seldon COMBINER component: aggregate() gets the list of its children's outputs, in the order
    of the graph's children, and the list of their column names."""

    def aggregate(self, Xs, features_names=None):
        outputs = [np.asarray(X, dtype=float) for X in Xs]
        shapes = {out.shape for out in outputs}
        if len(shapes) != 1:
            raise ValueError(f"children answered with different shapes: {sorted(shapes)}")
        return np.mean(outputs, axis=0)
