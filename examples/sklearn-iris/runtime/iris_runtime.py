"""A custom MLServer runtime (protocol v2): the iris softmax of examples/iris-model, numpy only.

`fadi-seldon package examples/sklearn-iris/runtime --runtime mlserver` finds this class (it subclasses
mlserver.MLModel and defines load and predict) and writes model-settings.json, the Dockerfile and a
`protocol: v2` SeldonDeployment beside it; `fadi-seldon serve examples/sklearn-iris/runtime` runs it.
"""

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse

FEATURES = 4


class IrisRuntime(MLModel):
    """One input tensor of N rows x 4 features; one output, `probabilities`, N rows x 3 classes."""

    async def load(self) -> bool:
        self.weights = np.array([[0.4, 0.1, -0.5], [1.0, -0.2, -0.8], [-1.2, 0.3, 0.9], [-1.5, -0.1, 3.8]])
        self.bias = np.array([1.5, 0.6, -5.0])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        rows = np.atleast_2d(NumpyCodec.decode_input(payload.inputs[0]).astype(float))
        if rows.shape[-1] != FEATURES:
            raise MLServerError(f"expected {FEATURES} features per row, got shape {list(rows.shape)}", 400)
        logits = rows @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        output = NumpyCodec.encode_output("probabilities", probabilities)
        return InferenceResponse(model_name=self.name, model_version=self.version, outputs=[output])
