"""Every shape the source note writes for a block (in a comment or a print) is a row of its trace, in order.

The lists below are read off the note at its own demo sizes (MSAA: CM-UNet's official module, whose
forward the note shows only as a picture). The trace may hold more rows than the note; the note's
shapes must appear among them in the note's order.
"""

import pytest

from fusion_edu import BLOCKS, trace

G = (1, 224, 224, 64)
NOTE_SHAPES = {
    "gated_fusion": [G, G, G, G, G, G],  # x1, x2, fc1(x1), fc2(x2), z, out
    "msf": [(4, 3, 2, 2), (4, 3, 1, 1), (4, 3, 1, 1), (4, 3, 4, 1), (4, 3, 4, 1), (4, 3, 4, 1), (4, 3, 1),
            (4, 3, 1, 1), (4, 3, 2, 2), (4, 3, 2, 2)],
    "mfe": [(1, 64, 192, 192)] * 5 + [(1, 64, 1, 1), (1, 64, 1, 1), (1, 64, 4, 1), (1, 64, 4, 1), (1, 64, 4, 1),
                                      (1, 64, 1), (1, 64, 1, 1), (1, 64, 192, 192), (1, 64, 192, 192)],
    "safm": [(1, 36, 224, 224)] + [(1, 9, 224, 224)] * 4 + [(1, 9, 224, 224), (1, 9, 112, 112), (1, 9, 112, 112),
                                                              (1, 9, 224, 224), (1, 36, 224, 224), (1, 36, 224, 224)],
    "osra": [(1, 64, 7, 7), (1, 64, 7, 7), (1, 8, 8, 49), (1, 8, 49, 8), (1, 64, 4, 4), (1, 64, 4, 4),
             (1, 128, 4, 4), (1, 64, 4, 4), (1, 64, 4, 4), (1, 8, 8, 16), (1, 8, 8, 16), (1, 8, 16, 8),
             (1, 8, 49, 16), (1, 8, 49, 16), (1, 8, 49, 8), (1, 8, 8, 49), (1, 64, 7, 7)],
    "msaa": [(1, 16, 56, 56), (1, 32, 56, 56), (1, 64, 56, 56), (1, 112, 56, 56), (1, 16, 56, 56),
             (1, 16, 1, 1), (1, 16, 1, 1), (1, 16, 1, 1), (1, 16, 1, 1), (1, 16, 1, 1), (1, 16, 56, 56),
             (1, 16, 56, 56), (1, 16, 56, 56), (1, 16, 56, 56), (1, 16, 56, 56),
             (1, 1, 56, 56), (1, 1, 56, 56), (1, 2, 56, 56), (1, 1, 56, 56), (1, 1, 56, 56),
             (1, 16, 56, 56), (1, 64, 56, 56)],
    "cbam_joint": [(1, 64, 7, 7), (1, 64, 1, 1), (1, 64, 1, 1), (1, 64, 1, 1), (1, 64, 1, 1), (1, 64, 1, 1),
                   (1, 64, 1, 1), (1, 1, 7, 7), (1, 1, 7, 7), (1, 2, 7, 7), (1, 1, 7, 7), (1, 49, 1, 1),
                   (1, 113, 1, 1), (1, 8, 1, 1), (1, 113, 1, 1), (1, 64, 1, 1), (1, 1, 7, 7), (1, 64, 7, 7),
                   (1, 64, 7, 7)],
}


def in_order(wanted, shapes):
    """The index in `wanted` of the first note shape not found (in order) in `shapes`, or None."""
    it = iter(shapes)
    for i, shape in enumerate(wanted):
        if not any(s == shape for s in it):
            return i
    return None


@pytest.mark.parametrize("key", list(BLOCKS))
def test_every_shape_the_note_writes_is_a_row_in_order(key):
    model, inputs = BLOCKS[key].demo(device="meta")
    t = trace(model, *inputs)
    shapes = [r.shape for r in t.rows]
    missing = in_order(NOTE_SHAPES[key], shapes)
    assert missing is None, f"{key}: note shape #{missing} {NOTE_SHAPES[key][missing]} not found in order in {shapes}"


def test_the_list_is_not_trivially_short():
    assert sum(len(v) for v in NOTE_SHAPES.values()) >= 77
