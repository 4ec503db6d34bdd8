"""The CPU forms of 3D convolution equal ``lax.conv_general_dilated``, forward and gradient."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from vjax.models.layers import conv as conv_lib

DN = ("NDHWC", "DHWIO", "NDHWC")

# (input, kernel, strides, padding, rhs dilation, groups, expected form)
CASES = {
    "1x3x3 spatial stride": ((2, 4, 9, 9, 6), (1, 3, 3, 6, 5), (1, 2, 2), ((0, 0), (1, 1), (1, 1)),
                             (1, 1, 1), 1, "fold"),
    "3x3x3 strides dilation asym pad": ((2, 9, 8, 7, 4), (3, 3, 3, 4, 5), (2, 1, 2),
                                        ((1, 2), (1, 2), (0, 1)), (2, 1, 2), 1, "taps"),
    "5x7x7 stem SAME": ((1, 6, 10, 10, 3), (5, 7, 7, 3, 4), (1, 2, 2), "SAME", (1, 1, 1), 1,
                        "taps"),
    "3x3x3 temporal stride, uneven": ((1, 8, 6, 6, 2), (3, 3, 3, 2, 3), (3, 1, 1),
                                      ((0, 2), (1, 1), (1, 1)), (1, 1, 1), 1, "taps"),
    "1x4x4 patch VALID": ((2, 6, 8, 8, 3), (1, 4, 4, 3, 4), (1, 4, 4), "VALID", (1, 1, 1), 1,
                          "fold"),
    "1x3x3 groups dilation": ((1, 3, 9, 9, 6), (1, 3, 3, 3, 6), (1, 1, 1),
                              ((0, 0), (2, 2), (2, 2)), (1, 2, 2), 2, "fold"),
    "1x1x1 matmul": ((2, 3, 5, 5, 6), (1, 1, 1, 6, 7), (1, 1, 1), ((0, 0), (0, 0), (0, 0)),
                     (1, 1, 1), 1, "fold"),
    "1x1x1 spatial stride": ((2, 3, 5, 5, 6), (1, 1, 1, 6, 7), (1, 2, 2),
                             ((0, 0), (0, 0), (0, 0)), (1, 1, 1), 1, "fold"),
    "3x1x1 temporal stride pad": ((2, 7, 4, 4, 6), (3, 1, 1, 6, 5), (2, 1, 1),
                                  ((1, 1), (0, 0), (0, 0)), (1, 1, 1), 1, "fold"),
    "3x1x1 padded spatially": ((1, 5, 3, 3, 4), (3, 1, 1, 4, 2), (1, 1, 1),
                               ((1, 1), (1, 0), (0, 1)), (1, 1, 1), 1, "fold"),
    "depthwise 3x3x3 stride": ((2, 6, 9, 9, 5), (3, 3, 3, 1, 5), (1, 2, 2),
                               ((1, 1), (1, 1), (1, 1)), (1, 1, 1), 5, "shift"),
    "depthwise dilated": ((1, 8, 8, 7, 4), (3, 3, 1, 1, 4), (2, 1, 1), ((2, 2), (2, 2), (0, 0)),
                          (2, 2, 1), 4, "shift"),
    "grouped temporal stays native": ((1, 5, 6, 6, 8), (3, 3, 3, 2, 8), (1, 1, 1),
                                      ((1, 1), (1, 1), (1, 1)), (1, 1, 1), 4, "native"),
}


def _pads(padding):
  return padding if isinstance(padding, str) else tuple(tuple(p) for p in padding)


# 2D: 1x1 kernels become one matrix product; the rest stays native.
CASES_2D = {
    "2d 1x1": ((2, 5, 5, 6), (1, 1, 6, 7), (1, 1), ((0, 0), (0, 0)), (1, 1), 1, "matmul"),
    "2d 1x1 stride pad": ((2, 8, 7, 6), (1, 1, 6, 7), (2, 1), ((1, 0), (0, 1)), (1, 1), 1,
                          "matmul"),
    "2d 3x3 native": ((2, 6, 6, 4), (3, 3, 4, 5), (1, 1), "SAME", (1, 1), 1, "native"),
    "2d 1x1 grouped native": ((2, 4, 4, 6), (1, 1, 3, 6), (1, 1), "VALID", (1, 1), 2,
                              "native"),
}


@pytest.mark.parametrize("name", list(CASES) + list(CASES_2D))
def test_form_matches_lax(name):
  lhs_shape, rhs_shape, strides, padding, dilation, groups, form = {**CASES, **CASES_2D}[name]
  spec = DN if len(lhs_shape) == 5 else ("NHWC", "HWIO", "NHWC")
  dn = lax.conv_dimension_numbers(lhs_shape, rhs_shape, spec)
  assert conv_lib.cpu_form(lhs_shape, rhs_shape, dn, None, groups, 1) == form
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=lhs_shape), jnp.float32)
  w = jnp.asarray(rng.normal(size=rhs_shape), jnp.float32)
  args = (strides, _pads(padding))
  kw = dict(rhs_dilation=dilation, dimension_numbers=dn, feature_group_count=groups)

  def loss(fn):
    # A fixed random cotangent, so the gradients are not just sums of the output.
    def f(x, w):
      y = fn(x, w, *args, **kw)
      return jnp.sum(y * jnp.cos(jnp.arange(y.size, dtype=jnp.float32).reshape(y.shape)))
    return jax.jit(jax.value_and_grad(f, argnums=(0, 1)))

  (ref, (rdx, rdw)) = loss(lax.conv_general_dilated)(x, w)
  (got, (gdx, gdw)) = loss(conv_lib.conv_general_dilated)(x, w)
  np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-3)
  y_ref = lax.conv_general_dilated(x, w, *args, **kw)
  y_new = jax.jit(lambda x, w: conv_lib.conv_general_dilated(x, w, *args, **kw))(x, w)
  assert y_new.shape == y_ref.shape
  np.testing.assert_allclose(y_new, y_ref, rtol=1e-5, atol=1e-4)
  np.testing.assert_allclose(gdx, rdx, rtol=1e-5, atol=1e-4)
  np.testing.assert_allclose(gdw, rdw, rtol=1e-5, atol=1e-3)


def test_forms_and_fallbacks():
  shape, kernel = (1, 4, 6, 6, 4), (3, 3, 3, 4, 4)
  dn = lax.conv_dimension_numbers(shape, kernel, DN)
  assert conv_lib.cpu_form(shape, kernel, dn, (1, 2, 2), 1, 1) == "native"  # transposed conv
  assert conv_lib.cpu_form(shape, kernel, dn, None, 1, 2) == "native"  # batch groups
  ncdhw = lax.conv_dimension_numbers((1, 4, 4, 6, 6), kernel[::-1],
                                     ("NCDHW", "OIDHW", "NCDHW"))
  assert conv_lib.cpu_form((1, 4, 4, 6, 6), kernel[::-1], ncdhw, None, 1, 1) == "native"
  dn2 = lax.conv_dimension_numbers((1, 6, 6, 4), (3, 3, 4, 4), ("NHWC", "HWIO", "NHWC"))
  assert conv_lib.cpu_form((1, 6, 6, 4), (3, 3, 4, 4), dn2, None, 1, 1) == "native"  # 2D


def _primitives(fn, *args):
  return {str(e.primitive) for e in jax.make_jaxpr(fn)(*args).eqns}


def test_other_backends_keep_native_3d(monkeypatch):
  x, w = jnp.ones((1, 4, 6, 6, 4)), jnp.ones((1, 3, 3, 4, 4))
  dn = lax.conv_dimension_numbers(x.shape, w.shape, DN)
  # A new function each time: jax caches traces per function.
  call = lambda: lambda x, w: conv_lib.conv_general_dilated(  # noqa: E731
      x, w, (1, 1, 1), "SAME", dimension_numbers=dn)
  assert "reshape" in _primitives(call(), x, w)  # the CPU's fold: frames into the batch
  monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
  assert _primitives(call(), x, w) == {"conv_general_dilated"}


def test_conv_module_same_parameters_as_flax():
  x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 4, 6, 6, 3)), jnp.float32)
  ours = conv_lib.Conv(5, (3, 3, 3), strides=(1, 2, 2), padding=((1, 1),) * 3)
  theirs = nn.Conv(5, (3, 3, 3), strides=(1, 2, 2), padding=((1, 1),) * 3)
  variables = theirs.init(jax.random.PRNGKey(0), x)
  assert jax.tree.map(jnp.shape, ours.init(jax.random.PRNGKey(0), x)) == jax.tree.map(
      jnp.shape, variables)
  np.testing.assert_allclose(ours.apply(variables, x), theirs.apply(variables, x), rtol=1e-5,
                             atol=1e-5)
