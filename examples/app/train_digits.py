#!/usr/bin/python3
"""Trains the digits classifier that examples/app links through CMake.

Data: scikit-learn's 8x8 handwritten digits (shipped inside the package, so
nothing is downloaded): 1797 images, 64 pixels of intensity 0-16, labels 0-9.
A fixed permutation (seed 0) holds out 20% for testing.

Model: the network of digits.nn, Linear(64, 128) - ReLU - Linear(128, 10),
trained on pixels / 16 with Adam. Before saving, the 1/16 input scaling is
folded into the first layer's weights (a power of two, so exactly), so the
saved model takes raw pixel intensities 0-16.

Writes, next to this script:
  digits.safetensors  the state_dict (0.weight, 0.bias, 2.weight, 2.bias)
  digits_test.csv     the first 100 held-out samples: label, then 64 pixels,
                      with the number PyTorch classifies correctly in a
                      comment line (the app and the tests check against it)

Run with Debian's PyTorch: /usr/bin/python3 examples/app/train_digits.py
(needs python3-torch, python3-sklearn and the safetensors package).
Training is deterministic: one thread, fixed seeds, deterministic kernels.
"""

import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.datasets import load_digits
from torch import nn

SEED = 0
TEST_FRACTION = 0.2
CSV_ROWS = 100
EPOCHS = 60
BATCH = 64

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    digits = load_digits()
    pixels = digits.data.astype(np.float32)  # integers 0..16
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(labels))
    numTest = int(round(len(labels) * TEST_FRACTION))
    testIdx, trainIdx = order[:numTest], order[numTest:]

    xTrain = torch.from_numpy(pixels[trainIdx]) / 16.0
    yTrain = torch.from_numpy(labels[trainIdx])
    xTest = torch.from_numpy(pixels[testIdx])  # raw pixels
    yTest = torch.from_numpy(labels[testIdx])

    # The same definition as digits.nn.
    model = nn.Sequential(
        nn.Linear(64, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossFn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(yTrain), generator=generator)
        total = 0.0
        for start in range(0, len(perm), BATCH):
            idx = perm[start:start + BATCH]
            optimizer.zero_grad()
            loss = lossFn(model(xTrain[idx]), yTrain[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        if (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1:3d}: train loss {total / len(perm):.4f}")

    # Fold the input scaling into the first layer: W (x / 16) = (W / 16) x,
    # exact in float32 because 1/16 is a power of two.
    with torch.no_grad():
        model[0].weight.mul_(1.0 / 16.0)

    model.eval()
    with torch.no_grad():
        predicted = model(xTest).argmax(dim=1)
    correct = (predicted == yTest)
    print(f"test accuracy: {int(correct.sum())}/{numTest} "
          f"({100.0 * float(correct.float().mean()):.2f}%) on the held-out set")
    csvCorrect = int(correct[:CSV_ROWS].sum())
    print(f"digits_test.csv: {csvCorrect}/{CSV_ROWS} correct")

    state = {k: v.detach().contiguous().to(torch.float32)
             for k, v in model.state_dict().items()}
    save_file(state, os.path.join(HERE, "digits.safetensors"))

    with open(os.path.join(HERE, "digits_test.csv"), "w") as f:
        f.write(f"# {CSV_ROWS} held-out samples of scikit-learn's 8x8 digits "
                f"(train_digits.py, seed {SEED}):\n")
        f.write("# the label, then 64 pixel intensities 0-16 (row-major).\n")
        f.write(f"# pytorch_correct: {csvCorrect} of {CSV_ROWS}\n")
        f.write("label," + ",".join(f"p{i}" for i in range(64)) + "\n")
        for i in range(CSV_ROWS):
            row = [str(int(yTest[i]))]
            row += [str(int(v)) for v in xTest[i].tolist()]
            f.write(",".join(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
