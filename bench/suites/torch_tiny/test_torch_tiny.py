"""Three trivial torch tests: the run is dominated by `import torch`."""
import torch


def test_ones_sum():
    assert torch.ones(3).sum() == 3


def test_arange():
    assert torch.arange(4).tolist() == [0, 1, 2, 3]


def test_matmul_identity():
    x = torch.tensor([1.0, 2.0])
    assert torch.equal(torch.eye(2) @ x, x)
