"""Property: for any setting a student can dial in, a block either runs with the promised shapes or explains
itself with our ValueError/TypeError; a raw torch error (RuntimeError, IndexError, AssertionError) never leaks."""

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fusion_edu import BLOCKS, meta_trace
from fusion_edu.errors import message


@st.composite
def block_settings(draw):
    key = draw(st.sampled_from(list(BLOCKS)))
    spec = BLOCKS[key]
    values = {
        "B": draw(st.integers(1, 3)),
        "C": draw(st.integers(1, 24)),
        "H": draw(st.integers(1, 20)),
        "W": draw(st.integers(1, 20)),
    }
    for hyper in spec.hypers:
        values[hyper.name] = draw(st.sampled_from(hyper.choices))
    train = draw(st.booleans())
    return key, values, train


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block_settings())
def test_any_setting_runs_or_explains_itself(setting):
    key, values, train = setting
    spec = BLOCKS[key]
    try:
        model, inputs = spec.build(**values)
    except (ValueError, TypeError) as e:
        assert str(e).startswith(spec.cls.__name__ + ": "), str(e)
        assert message(e, "zh") != str(e)  # a Chinese version exists
        return
    model.train(train)
    try:
        with torch.no_grad():
            out = model(*inputs)
    except (ValueError, TypeError) as e:
        assert str(e).startswith(spec.cls.__name__ + ": "), str(e)
        return
    outs = out if isinstance(out, tuple) else (out,)
    kwargs, shapes = spec.configure(**values)
    B, _, H, W = shapes[0] if key != "gated_fusion" or values["layout"] == "nchw" else (
        shapes[0][0], None, shapes[0][1], shapes[0][2])
    for o in outs:
        assert o.shape[0] == B and torch.isfinite(o).all()
    # The meta trace agrees with the real run, so the explorer never shows a shape the block would not produce.
    meta = meta_trace(key, train=train, **values)
    assert meta.output_shapes == [tuple(o.shape) for o in outs]
