"""Train the xgboost-iris example: a gradient-boosted multi-class model on scikit-learn's iris data.

No download: `load_iris` reads the copy inside scikit-learn. The artifact is `model.bst`, XGBoost's
own format and a name MLServer's xgboost runtime (XGBOOST_SERVER with `protocol: v2`) looks for in a
model folder. Train with the xgboost release that serves it (1.7, see RUNTIMES in
fadi_seldon/model/mlserver.py), in any Python 3.11 environment:

    python -m pip install 'xgboost<2' scikit-learn
    python examples/xgboost-iris/train.py OUT_DIR
    fadi-seldon serve --server XGBOOST_SERVER --model-uri OUT_DIR --protocol v2 --name iris

The artifact is not committed (a binary made in a second); OUT_DIR defaults to this folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import xgboost
from sklearn.datasets import load_iris

ARTIFACT = "model.bst"
CLASSES = 3


def train(out_dir: Path) -> Path:
    """Boost 20 shallow trees on the 150 flowers; the model answers one probability per class."""
    features, labels = load_iris(return_X_y=True)
    data = xgboost.DMatrix(features, label=labels)
    params = {"objective": "multi:softprob", "num_class": CLASSES, "max_depth": 2, "eta": 0.3}
    booster = xgboost.train(params, data, num_boost_round=20)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ARTIFACT
    booster.save_model(path)
    predicted = booster.predict(data).argmax(axis=1)
    accuracy = float((predicted == labels).mean())
    print(f"wrote {path} (training accuracy {accuracy:.3f})")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=Path(__file__).resolve().parent)
    train(parser.parse_args().out_dir)


if __name__ == "__main__":
    main()
