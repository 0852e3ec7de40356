"""A router for the Seldon wrapper: a fixed threshold on one feature picks the child.

With the defaults, an iris flower whose petal length (feature 2, in centimetres) is below 2.5
goes to child 0 and any other to child 1: the setosa flowers are told apart by that alone.
"""

import numpy as np


class ThresholdRouter:
    """Seldon ROUTER component: route() returns the index of the child that answers the request.

    The executor sends the whole request to one child, so the first row decides.
    """

    def __init__(self, feature=2, threshold=2.5):
        self.feature = int(feature)
        self.threshold = float(threshold)

    def route(self, X, features_names=None):
        first_row = np.atleast_2d(np.asarray(X, dtype=float))[0]
        # a Python int: the wrapper refuses numpy integers ("Routing response must be int")
        return 0 if first_row[self.feature] < self.threshold else 1
