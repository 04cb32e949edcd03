"""Two more trivial JAX tests: a reduction and a gradient."""
import jax
import jax.numpy as jnp


def test_sum():
    assert float(jnp.arange(4.0).sum()) == 6.0


def test_grad_of_square():
    assert float(jax.grad(lambda x: x * x)(3.0)) == 6.0
