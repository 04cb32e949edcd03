"""The README's origin example, verbatim: a jitted function on jnp.ones(10),
checked with numpy. The run is dominated by `import jax` and, in each test
process, starting JAX's CPU backend and compiling."""
import jax
import jax.numpy as jnp
import numpy as np


@jax.jit
def times_two(x):
    return x * 2


def test_times_two():
    np.testing.assert_array_equal(times_two(jnp.ones(10)), 2 * np.ones(10))
