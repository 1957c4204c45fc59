"""The greedy attack's softmax Hessian, computed by matrix products, equals its definition entry by entry."""

import numpy as np
import pytest

from labelguard.tasks.attacks import _softmax, _softmax_hessian


@pytest.mark.parametrize("n,k,d", [(40, 2, 3), (25, 4, 5)])
def test_softmax_hessian_matches_its_definition(n, k, d):
    rng = np.random.default_rng(3)
    X1 = rng.normal(size=(n, d))
    P = _softmax(X1 @ rng.normal(size=(k, d)).T)
    want = np.zeros((k, d, k, d))
    for a in range(k):
        for b in range(k):
            for i in range(d):
                for j in range(d):  # H[(a,i),(b,j)] = mean_n (P_a δ_ab - P_a P_b) x_i x_j + l2 δ
                    want[a, i, b, j] = np.mean((P[:, a] * (a == b) - P[:, a] * P[:, b]) * X1[:, i] * X1[:, j])
    want = want.reshape(k * d, k * d) + 0.01 * np.eye(k * d)
    got = _softmax_hessian(X1, P, 0.01)
    assert got.shape == (k * d, k * d)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
