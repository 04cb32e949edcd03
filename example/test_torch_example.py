# The README's example: a test file that imports a fat library.
import torch


def test_doubling():
    xs = torch.ones(10)
    ys = xs * 2
    assert torch.equal(ys, 2 * xs)


def test_matmul():
    a = torch.eye(3)
    assert torch.equal(a @ a, a)


def test_grad():
    x = torch.tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 6.0
