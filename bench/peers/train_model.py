"""Train the small scikit-learn model of the benchmark and save it with joblib.

The iris data set ships inside scikit-learn, so nothing is downloaded.
Usage: python train_model.py OUT_DIR   (writes OUT_DIR/model.joblib)
"""

import os
import sys

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def train(out_dir):
    """Fit a logistic regression on iris and write ``out_dir/model.joblib``; return the path."""
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.joblib")
    joblib.dump(model, path)
    return path


if __name__ == "__main__":
    print(train(sys.argv[1]))
