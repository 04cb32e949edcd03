"""Nearest neighbours, SVMs and clustering."""
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from helpers import classification, split

SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 5, 15])
def test_knn(seed, k):
    Xtr, Xte, ytr, yte = split(*classification(seed))
    model = KNeighborsClassifier(n_neighbors=k).fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.6


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_svc(seed, kernel):
    Xtr, Xte, ytr, yte = split(*classification(seed))
    scaler = StandardScaler().fit(Xtr)
    model = SVC(kernel=kernel, C=1.0).fit(scaler.transform(Xtr), ytr)
    assert model.score(scaler.transform(Xte), yte) > 0.6


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n_clusters", [2, 4])
def test_kmeans(seed, n_clusters):
    X, _ = classification(seed)
    model = KMeans(n_clusters=n_clusters, n_init=3, random_state=seed).fit(X)
    assert len(np.unique(model.labels_)) == n_clusters
    assert model.inertia_ > 0
