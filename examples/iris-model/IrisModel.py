"""An iris-like classifier for trying the Seldon wrapper: a fixed softmax layer, numpy only.

The weights are made up (no training data is shipped); they separate the three classes the way
petal length and width do in the classic iris data, which is enough to see sensible answers.
"""

import numpy as np


class IrisModel:
    """Seldon MODEL component: the wrapper calls predict() with a 2-D array of 4 features per row."""

    labels = ["setosa", "versicolor", "virginica"]
    feature_names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

    def __init__(self, temperature=1.0):
        self.temperature = float(temperature)
        self.weights = np.array(
            [
                [0.4, 0.1, -0.5],
                [1.0, -0.2, -0.8],
                [-1.2, 0.3, 0.9],
                [-1.5, -0.1, 3.8],
            ]
        )
        self.bias = np.array([1.5, 0.6, -5.0])
        self.requests = 0

    def predict(self, X, features_names=None):
        rows = np.atleast_2d(np.asarray(X, dtype=float))
        if rows.shape[1] != len(self.feature_names):
            raise ValueError(f"expected {len(self.feature_names)} features per row, got {rows.shape[1]}")
        self.requests += 1
        logits = (rows @ self.weights + self.bias) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def class_names(self):
        """Names of the output columns; the wrapper puts them in every answer's data.names."""
        return list(self.labels)

    def tags(self):
        return {"model": "iris-model", "temperature": self.temperature}

    def metrics(self):
        return [{"type": "COUNTER", "key": "iris_requests_total", "value": 1}]
