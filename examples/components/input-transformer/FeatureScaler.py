"""An input transformer for the Seldon wrapper: multiplies every feature by a constant factor.

The default factor, 0.1, turns measurements in millimetres into the centimetres
examples/iris-model expects, so a graph "scaler -> iris" accepts `[[51, 35, 14, 2]]`.
"""

import numpy as np


class FeatureScaler:
    """Seldon TRANSFORMER component: the wrapper calls transform_input() on the request's features
    before the graph passes them on to the node's child."""

    def __init__(self, factor=0.1):
        # graph parameters arrive typed (FLOAT), `serve --parameters` may pass a string: accept both
        self.factor = float(factor)

    def transform_input(self, X, features_names=None):
        return np.asarray(X, dtype=float) * self.factor

    def tags(self):
        return {"scaled_by": self.factor}
