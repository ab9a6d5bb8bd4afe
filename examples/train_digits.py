"""Train an MLP and a small CNN on scikit-learn's bundled digits (8x8 images, no download).

    python examples/train_digits.py                   # ferrograd
    python examples/train_digits.py --backend torch   # the same code on PyTorch

The model code below is plain PyTorch; only the import at the top changes with --backend.
Prints a progress bar, the per-epoch time and the test accuracy of each model, and saves
the loss / accuracy curves to docs/train_digits.png (when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--backend", choices=["ferrograd", "torch"], default="ferrograd")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument(
    "--plot", default=os.path.join(os.path.dirname(__file__), "..", "docs", "train_digits.png")
)
parser.add_argument("--no-plot", action="store_true")
parser.add_argument("--models", default="mlp,cnn")
args = parser.parse_args()

if args.backend == "torch":
    import torch
else:
    import ferrograd as torch

nn = torch.nn
F = torch.nn.functional
DataLoader = torch.utils.data.DataLoader
TensorDataset = torch.utils.data.TensorDataset


def load_digits(seed):
    """The 1797 digits as float32 images in [0, 1], split 80/20 with a fixed permutation."""
    try:
        from sklearn.datasets import load_digits as sk_load
    except ImportError:
        sys.exit("this example needs scikit-learn: pip install scikit-learn")
    digits = sk_load()
    x = (digits.images / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    train, test = order[:cut], order[cut:]
    return (torch.tensor(x[train]), torch.tensor(y[train])), (
        torch.tensor(x[test]),
        torch.tensor(y[test]),
    )


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 128),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 2 * 2, 10)

    def forward(self, x):
        x = x.unsqueeze(1)  # (N, 1, 8, 8)
        x = self.pool(F.relu(self.conv1(x)))  # (N, 16, 4, 4)
        x = self.pool(F.relu(self.conv2(x)))  # (N, 32, 2, 2)
        return self.fc(x.flatten(1))


def progress(done, total, loss, width=30):
    filled = int(width * done / total)
    bar = "#" * filled + "." * (width - filled)
    sys.stdout.write(f"\r  [{bar}] {done:3d}/{total} loss {loss:.4f}")
    sys.stdout.flush()


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = model(x).argmax(1)
    model.train()
    return (pred == y).float().mean().item()


def train(name, model, train_set, test_set):
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, {args.epochs} epochs")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loader = DataLoader(TensorDataset(*train_set), batch_size=args.batch_size, shuffle=True)
    history = {"loss": [], "acc": [], "time": []}
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        total, count = 0.0, 0
        for i, (xb, yb) in enumerate(loader, 1):
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
            count += len(yb)
            progress(i, len(loader), total / count)
        scheduler.step()
        elapsed = time.perf_counter() - start
        acc = accuracy(model, *test_set)
        history["loss"].append(total / count)
        history["acc"].append(acc)
        history["time"].append(elapsed)
        line = f"  epoch {epoch:2d}  loss {total / count:.4f}  test acc {acc:.4f}"
        line += f"  {elapsed * 1000:7.1f} ms"
        print("\r" + line.ljust(60))
    mean_ms = 1000 * sum(history["time"][1:]) / max(1, len(history["time"]) - 1)
    acc = history["acc"][-1]
    print(f"{name}: test accuracy {acc:.4f}, {mean_ms:.1f} ms per epoch (mean after the first)")
    return history


def plot(histories, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for name, h in histories.items():
        epochs = range(1, len(h["loss"]) + 1)
        ax1.plot(epochs, h["loss"], label=name)
        ax2.plot(epochs, h["acc"], label=name)
    ax1.set(title="training loss", xlabel="epoch", ylabel="cross entropy")
    ax2.set(title="test accuracy", xlabel="epoch", ylabel="accuracy")
    ax2.set_ylim(top=1.0)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"digits ({args.backend})")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"saved {os.path.normpath(path)}")


def main():
    torch.manual_seed(args.seed)
    train_set, test_set = load_digits(args.seed)
    print(
        f"backend {args.backend}: {len(train_set[1])} training and {len(test_set[1])} test images"
    )
    models = {"MLP": MLP, "CNN": CNN}
    histories = {}
    for name in args.models.upper().split(","):
        torch.manual_seed(args.seed)
        histories[name] = train(name, models[name](), train_set, test_set)
    if not args.no_plot:
        plot(histories, args.plot)


if __name__ == "__main__":
    main()
