"""Train the sklearn-iris example: a LogisticRegression on the iris data set scikit-learn ships.

No download: `load_iris` reads the copy inside scikit-learn. The artifact is `model.joblib`, the name
MLServer's sklearn runtime (and Seldon's SKLEARN_SERVER) looks for in a model folder. Train with the
scikit-learn that serves it, so the pickle's classes match: MLServer's venv has it, and `serve
--setup` makes that venv and prints its python:

    "$(fadi-seldon serve --setup --server SKLEARN_SERVER --protocol v2)" examples/sklearn-iris/train.py OUT_DIR
    fadi-seldon serve --server SKLEARN_SERVER --model-uri OUT_DIR --protocol v2

The artifact is not committed (a binary made in seconds); OUT_DIR defaults to this folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

ARTIFACT = "model.joblib"


def train(out_dir: Path) -> Path:
    """Fit on the 150 iris flowers (4 features, 3 classes) and write OUT_DIR/model.joblib."""
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ARTIFACT
    joblib.dump(model, path)
    accuracy = model.score(features, labels)
    print(f"wrote {path} (training accuracy {accuracy:.3f})")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=Path(__file__).resolve().parent)
    train(parser.parse_args().out_dir)


if __name__ == "__main__":
    main()
