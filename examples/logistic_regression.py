"""The Theano tutorial's logistic regression, unchanged but for the import line:
trains on synthetic data with tensorc's C backend and prints a falling loss and the
final accuracy."""

import time

import numpy as np

import tensorc as theano
import tensorc.tensor as T

rng = np.random.default_rng(42)
N, feats = 400, 784
training_steps = 200

# Synthetic but learnable data: labels from a hidden linear rule plus noise.
true_w = rng.standard_normal(feats)
inputs = rng.standard_normal((N, feats))
labels = (inputs @ true_w + 0.5 * rng.standard_normal(N) > 0).astype(np.int64)
D = (inputs, labels)

x = T.dmatrix("x")
y = T.dvector("y")
w = theano.shared(rng.standard_normal(feats) * 0.01, name="w")
b = theano.shared(0.0, name="b")

p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))  # probability that the target is 1
prediction = p_1 > 0.5
xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)  # cross-entropy loss
cost = xent.mean() + 0.01 * (w**2).sum()  # with weight decay
gw, gb = T.grad(cost, [w, b])

start = time.perf_counter()
train = theano.function(
    inputs=[x, y],
    outputs=[prediction, xent.mean()],
    updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)),
)
predict = theano.function(inputs=[x], outputs=prediction)
print(f"compiled in {time.perf_counter() - start:.2f} s")

start = time.perf_counter()
for step in range(training_steps):
    pred, err = train(D[0], D[1])
    if step % 20 == 0 or step == training_steps - 1:
        print(f"step {step:4d}  loss {float(err):.4f}")
elapsed = time.perf_counter() - start

accuracy = float(np.mean(predict(D[0]) == D[1]))
print(f"{training_steps} steps in {elapsed:.2f} s ({elapsed / training_steps * 1e3:.2f} ms/step)")
print(f"final accuracy on the training set: {accuracy:.3f}")
