"""Three trivial TensorFlow tests: the run is dominated by `import tensorflow`
and, in each test process, starting its eager runtime."""
import tensorflow as tf


def test_ones_sum():
    assert float(tf.reduce_sum(tf.ones(3))) == 3.0


def test_range():
    assert tf.range(4).numpy().tolist() == [0, 1, 2, 3]


def test_matmul_identity():
    x = tf.constant([[1.0], [2.0]])
    assert tf.reduce_all(tf.equal(tf.eye(2) @ x, x))
