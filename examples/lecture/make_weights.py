#!/usr/bin/env python3
"""Writes mynet.safetensors: the weights the lecture's slides print for
MyNet = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 2), nn.Linear(2, 1)).

The file is what `safetensors.torch.save_file(MyNet.state_dict(), ...)` would
write for those values; it is built with the standard library alone so that
it can be regenerated anywhere.
"""
import json
import os
import struct

STATE_DICT = {
    "0.weight": ([3, 2], [0.4727, -0.5188, -0.5681, -0.6032, -0.0252, -0.3011]),
    "0.bias": ([3], [-0.6986, -0.6602, -0.4860]),
    "1.weight": ([2, 3], [-0.5549, 0.2550, 0.4584, 0.2930, 0.0849, -0.3146]),
    "1.bias": ([2], [0.1677, 0.0736]),
    "2.weight": ([1, 2], [0.4106, -0.3618]),
    "2.bias": ([1], [-0.2270]),
}


def save_file(tensors, path):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        shape, values = tensors[name]
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    save_file(STATE_DICT, os.path.join(os.path.dirname(__file__), "mynet.safetensors"))
