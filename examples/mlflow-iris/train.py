"""Train the mlflow-iris example: a LogisticRegression saved as an MLflow model (an `MLmodel` folder).

No download: `load_iris` reads the copy inside scikit-learn. MLFLOW_SERVER with `protocol: v2` runs
MLServer's mlflow runtime, which loads any MLflow model folder as a pyfunc; the signature saved with
it tells MLServer the input's shape and type. Save with an mlflow close to the one that serves it
(`.venv-mlserver` gets the newest release pip finds beside MLServer 1.3.5's pins: 3.5 when this was
written; 2.5 works too), in any Python 3.11 environment:

    python -m pip install mlflow scikit-learn
    python examples/mlflow-iris/train.py OUT_DIR
    fadi-seldon serve --server MLFLOW_SERVER --model-uri OUT_DIR --protocol v2 --name iris

The artifact is not committed (made in seconds); OUT_DIR defaults to a `model` folder beside this
file, and must not exist yet (MLflow refuses to overwrite a model).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mlflow.sklearn
from mlflow.models.signature import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def train(out_dir: Path) -> Path:
    """Fit on the 150 iris flowers and save an MLflow model folder (MLmodel, model.pkl, signature)."""
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    signature = infer_signature(features, model.predict(features))
    mlflow.sklearn.save_model(model, str(out_dir), signature=signature)
    print(f"wrote {out_dir} (training accuracy {model.score(features, labels):.3f})")
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent / "model"
    parser.add_argument("out_dir", nargs="?", type=Path, default=default)
    train(parser.parse_args().out_dir)


if __name__ == "__main__":
    main()
