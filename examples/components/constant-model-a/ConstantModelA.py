"""A model for trying routers and combiners: whatever it is asked, it answers the same scores.

Each request row gets the row [0.7, 0.2, 0.1], shaped like examples/iris-model's answer with
class 0 (setosa) winning. The answer's tags name this model, so a test can tell which child served.
It also reports a custom metric, the rows it answered, which the wrapper exposes on its metrics port
(`/prometheus`) as a Prometheus counter.
"""

import numpy as np


class ConstantModelA:
    """Seldon MODEL component with a fixed answer."""

    row = [0.7, 0.2, 0.1]
    rows_answered = 0

    def predict(self, X, features_names=None):
        rows = np.atleast_2d(np.asarray(X)).shape[0]
        self.rows_answered = rows
        return np.tile(self.row, (rows, 1))

    def metrics(self):
        # called by the wrapper after each predict(): a COUNTER adds its value to the running total,
        # exposed as fadi_constant_model_rows_total{method="predict", ...}
        return [{"type": "COUNTER", "key": "fadi_constant_model_rows", "value": self.rows_answered}]

    def class_names(self):
        return ["setosa", "versicolor", "virginica"]

    def tags(self):
        return {"served_by": "constant-model-a"}
