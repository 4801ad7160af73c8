#!/usr/bin/env python3
"""A user's own PyTorch training script, as seqc's first-contact test takes it.

An 8x8-image classifier inside an nn.Module, trained for a few steps on
synthetic images (a bright stroke per class plus noise), then saved the
usual way: torch.save(model.state_dict(), ...). Its keys carry the wrapped
module's prefix, `layers.`. classifier.nn is the Sequential below pasted as
written (firstcontact.pasted_as_written checks that), and the test runs it
with this checkpoint on the image-shaped input and compares with the
outputs PyTorch computes here.

Writes, beside this script: classifier.pt, images.npy ([5, 8, 8] float32),
expected.npy ([5, 10], PyTorch's float32 outputs in eval mode) and
classifier.onnx (torch.onnx.export, opset 13, the batch dynamic).
Run with Debian's python3 (PyTorch 1.13): /usr/bin/python3 train_classifier.py
With --check it writes nothing: the checked-in expected.npy must be what
PyTorch computes from the checked-in checkpoint and images (to 1e-6), and a
re-run of the training must give the same weights and outputs (to 1e-4 of
their magnitude: other CPUs may round PyTorch's kernels differently). Exits
77 (skip) without PyTorch.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError:
    print("PyTorch and numpy are needed; skipped")
    sys.exit(77)

torch.manual_seed(0)

# --- the model, as the user wrote it (classifier.nn pastes this part) ---
hidden = 96
block = [nn.Linear(8 * 8, hidden), nn.BatchNorm1d(hidden), nn.GELU()]
head = [nn.Linear(hidden // 2, 10)]
# --- end of the pasted part ---


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(),
            *block,
            nn.Dropout(p=0.1),
            nn.Linear(hidden, hidden // 2),
            nn.ReLU(),
            *head,
        )

    def forward(self, x):
        return self.layers(x)


def images(generator, count):
    """count noisy 8x8 images and their classes: class c lights row c."""
    labels = torch.randint(0, 10, (count,), generator=generator)
    x = 0.1 * torch.randn(count, 8, 8, generator=generator)
    for i, c in enumerate(labels.tolist()):
        x[i, c % 8, :] += 1.0
        if c >= 8:
            x[i, :, c - 8] += 1.0
    return x, labels


def train_and_save(out_dir):
    """Trains the classifier and writes the three files into out_dir."""
    generator = torch.Generator().manual_seed(1)
    model = Classifier()
    # SGD, not Adam: the first Linear's bias feeds a BatchNorm, which
    # cancels it, so its gradient is rounding noise; Adam scales any
    # gradient to a full step, and a re-run on another CPU (other BLAS
    # kernels) drifted by 2e-3 of the outputs. SGD leaves it where it is:
    # re-runs agree to 5e-7 across OpenBLAS core types and ATen's CPU
    # capabilities.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(30):
        x, y = images(generator, 64)
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    model.eval()
    torch.save(model.state_dict(), os.path.join(out_dir, "classifier.pt"))

    x, _ = images(generator, 5)
    with torch.no_grad():
        y = model(x)
    np.save(os.path.join(out_dir, "images.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out_dir, "expected.npy"), y.numpy().astype(np.float32))
    # The other way users hand over a model: an ONNX export, batch dynamic.
    torch.onnx.export(model, x, os.path.join(out_dir, "classifier.onnx"),
                      input_names=["images"], output_names=["scores"],
                      dynamic_axes={"images": {0: "batch"}, "scores": {0: "batch"}},
                      opset_version=13)


def close(a, b, tol):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and np.abs(a - b).max() <= tol * max(1.0, np.abs(b).max())


def check(here):
    """Compares the checked-in files with PyTorch and with a re-run."""
    model = Classifier()
    model.load_state_dict(torch.load(os.path.join(here, "classifier.pt")))
    model.eval()
    x = np.load(os.path.join(here, "images.npy"))
    expected = np.load(os.path.join(here, "expected.npy"))
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    ok = close(y, expected, 1e-6)
    with tempfile.TemporaryDirectory() as fresh:
        # In a process of its own: the layers above are module-level objects,
        # initialised once per process, and `model` shares them.
        subprocess.run([sys.executable, os.path.abspath(__file__), "--out", fresh], check=True)
        ok = ok and close(np.load(os.path.join(fresh, "images.npy")), x, 0)
        ok = ok and close(np.load(os.path.join(fresh, "expected.npy")), expected, 1e-4)
        old = torch.load(os.path.join(here, "classifier.pt"))
        new = torch.load(os.path.join(fresh, "classifier.pt"))
        ok = ok and old.keys() == new.keys()
        ok = ok and all(close(new[k].numpy(), old[k].numpy(), 1e-4) for k in old)
    print("checked" if ok else "the checked-in files differ from PyTorch's; re-run the script")
    return 0 if ok else 1


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.argv[1:] == ["--check"]:
        return check(here)
    if len(sys.argv) == 3 and sys.argv[1] == "--out":
        here = sys.argv[2]
    train_and_save(here)
    return 0


if __name__ == "__main__":
    sys.exit(main())
