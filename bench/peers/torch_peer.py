"""PyTorch float64 on one thread, timed on unequal's benchmark problems (bench/peers/torch.ts).

A small server: bench/peers/torch.ts starts it with /usr/bin/python3, writes the problems'
arrays as raw little-endian float64 files into a directory, and sends one JSON command per line
on stdin; each reply is one JSON line on stdout. Commands:

  {"cmd": "load", "dir": D}            read D/<name>.f64 and D/shapes.json, build the problems
  {"cmd": "run", "task": T, "out": F}  run task T once and write its result (flattened, float64) to F
  {"cmd": "time", "task": T, "reps": R} run T R times; reply {"wall": [ms…], "cpu": [ms…]}
  {"cmd": "quit"}

Tasks: matmul.<n> (C = A·B), logreg.grad, logreg.hvp, smlp.grad, smlp.hvp, lenet.sgd (returns the
mean-loss gradient, every leaf flattened) and lenet.l2rw (returns the meta-gradient). Gradients use
torch.autograd.grad; HVPs are double backward (grad of ⟨∇R, v⟩ with create_graph=True), each call
recomputing the forward pass, as a training loop would. The caller checks every result against its
float64 references before it trusts a time. CPU time is time.process_time() of this process, the
time PyTorch spends while it holds a core, whatever the load from other processes.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
torch.set_default_dtype(torch.float64)

problems = {}


def read(d, name, shape):
    data = torch.from_file(os.path.join(d, name + ".f64"), shared=False, size=int(torch.tensor(shape).prod().item()) if shape else 1, dtype=torch.float64)
    return data.reshape(shape).clone()


def load(d):
    with open(os.path.join(d, "shapes.json")) as f:
        spec = json.load(f)
    arrays = {name: read(d, name, shape) for name, shape in spec["arrays"].items()}
    consts = spec["consts"]
    tasks = {}

    for n in spec.get("matmul", []):
        # The same inputs as bench/matmul.ts: A[i] = sin(0.37 i), B[i] = cos(0.11 i).
        idx = torch.arange(n * n, dtype=torch.float64)
        A = torch.sin(idx * 0.37).reshape(n, n)
        B = torch.cos(idx * 0.11).reshape(n, n)
        tasks[f"matmul.{n}"] = (lambda A=A, B=B: torch.mm(A, B))

    if "lr.X" in arrays:
        lrX, y = arrays["lr.X"], arrays["lr.y"]
        lr_lam = consts["lr.lambda"]
        w = arrays["lr.w"].clone().requires_grad_(True)
        b = arrays["lr.b"].reshape(()).clone().requires_grad_(True)
        vw, vb = arrays["lr.vw"], arrays["lr.vb"].reshape(())

        def lr_loss():
            s = lrX @ w + b
            return F.binary_cross_entropy_with_logits(s, y) + (lr_lam / 2) * (w * w).sum()

        def lr_grad():
            gw, gb = torch.autograd.grad(lr_loss(), [w, b])
            return torch.cat([gw, gb.reshape(1)])

        def lr_hvp():
            gw, gb = torch.autograd.grad(lr_loss(), [w, b], create_graph=True)
            hw, hb = torch.autograd.grad((gw * vw).sum() + gb * vb, [w, b])
            return torch.cat([hw, hb.reshape(1)])

        tasks["logreg.grad"] = lr_grad
        tasks["logreg.hvp"] = lr_hvp

    if "sm.X" in arrays:
        smX, labels = arrays["sm.X"], arrays["sm.labels"].long()
        sm_lam = consts["sm.lambda"]
        keys = ["W1", "b1", "W2", "b2"]
        theta = [arrays["sm." + k].clone().requires_grad_(True) for k in keys]
        v = [arrays["sm.v" + k] for k in keys]

        def sm_loss():
            W1, b1, W2, b2 = theta
            logits = torch.tanh(smX @ W1 + b1) @ W2 + b2
            return F.cross_entropy(logits, labels) + (sm_lam / 2) * ((W1 * W1).sum() + (W2 * W2).sum())

        def sm_grad():
            return torch.cat([g.reshape(-1) for g in torch.autograd.grad(sm_loss(), theta)])

        def sm_hvp():
            g = torch.autograd.grad(sm_loss(), theta, create_graph=True)
            dot = sum((gi * vi).sum() for gi, vi in zip(g, v))
            return torch.cat([h.reshape(-1) for h in torch.autograd.grad(dot, theta)])

        tasks["smlp.grad"] = sm_grad
        tasks["smlp.hvp"] = sm_hvp

    if "ln.X" in arrays:
        # The LeNet of src/nn/cnn.ts (bench/lenet.ts): 'same' 5x5 convolutions, 3x3 stride-2 max
        # pooling with TensorFlow's SAME padding (the odd padding entry goes after; -inf never
        # wins), ReLU, dense 1024 -> 100 -> 1 (y = h W^T + b), sigmoid cross-entropy per example.
        lnX, lny = arrays["ln.X"].reshape(-1, 1, 28, 28), arrays["ln.y"]
        lnXv, lnyv = arrays["ln.Xv"].reshape(-1, 1, 28, 28), arrays["ln.yv"]
        ln_lr, ln_beta = consts["ln.lr"], consts["ln.beta"]
        nleaves = int(consts["ln.leaves"])
        P = [arrays[f"ln.p{i}"].clone().requires_grad_(True) for i in range(nleaves)]
        momentum_buf = [torch.zeros_like(q) for q in P]

        def pool_same(h, before, after):
            h = F.pad(h, (before, after, before, after), value=float("-inf"))
            return F.max_pool2d(h, 3, 2)

        def ln_losses(Q, X, y):
            h = F.relu(pool_same(F.conv2d(X, Q[0], Q[1], padding=2), 0, 1))
            h = F.relu(pool_same(F.conv2d(h, Q[2], Q[3], padding=2), 0, 1))
            h = F.relu(pool_same(F.conv2d(h, Q[4], Q[5], padding=2), 1, 1))
            h = F.relu(F.linear(h.reshape(h.shape[0], -1), Q[6], Q[7]))
            z = F.linear(h, Q[8], Q[9]).reshape(-1)
            return F.binary_cross_entropy_with_logits(z, y, reduction="none")

        def momentum_step(grads):
            # optax-style momentum as src/optim/sgd.ts: buf <- beta buf + g, p <- p - lr buf (new
            # tensors: the parameters stay where they are, as in the unequal bench)
            bufs = [ln_beta * b + g for b, g in zip(momentum_buf, grads)]
            return [q.detach() - ln_lr * b for q, b in zip(P, bufs)]

        def ln_sgd():
            grads = torch.autograd.grad(ln_losses(P, lnX, lny).mean(), P)
            momentum_step(grads)
            return torch.cat([g.reshape(-1) for g in grads])

        def ln_meta():
            eps = torch.zeros(lnX.shape[0], requires_grad=True)
            grads = torch.autograd.grad((eps * ln_losses(P, lnX, lny)).sum(), P, create_graph=True)
            ahead = [q - ln_lr * g for q, g in zip(P, grads)]
            return torch.autograd.grad(ln_losses(ahead, lnXv, lnyv).mean(), eps)[0]

        def ln_l2rw():
            g = ln_meta()
            w = torch.clamp(-g, min=0)
            total = w.sum()
            w = w / total if total > 0 else w
            grads = torch.autograd.grad((w * ln_losses(P, lnX, lny)).sum(), P)
            momentum_step(grads)
            return g

        tasks["lenet.sgd"] = ln_sgd
        tasks["lenet.l2rw"] = ln_l2rw

    problems.clear()
    problems.update(tasks)
    return sorted(tasks)


def blas_library():
    """The BLAS shared library this process mapped (PyTorch's float64 products run in it)."""
    torch.mm(torch.ones(8, 8), torch.ones(8, 8))
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return ", ".join(sorted(os.path.realpath(p) for p in paths)) or "unknown"
    except OSError:
        return "unknown"


def main():
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            cmd = msg["cmd"]
            if cmd == "quit":
                break
            if cmd == "load":
                reply = {"tasks": load(msg["dir"]), "torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_library()}
            elif cmd == "run":
                out = problems[msg["task"]]().detach().contiguous().reshape(-1)
                out.numpy().astype("<f8").tofile(msg["out"])
                reply = {"size": out.numel()}
            elif cmd == "time":
                fn = problems[msg["task"]]
                wall, cpu = [], []
                for _ in range(msg.get("reps", 1)):
                    c0, t0 = time.process_time(), time.perf_counter()
                    fn()
                    wall.append((time.perf_counter() - t0) * 1e3)
                    cpu.append((time.process_time() - c0) * 1e3)
                reply = {"wall": wall, "cpu": cpu}
            else:
                reply = {"error": f"unknown command {cmd}"}
        except Exception as e:  # reported to the caller, which fails loudly
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
