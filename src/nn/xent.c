/* Softmax cross-entropy with label smoothing, mean over the batch (PyTorch CrossEntropyLoss semantics:
 * target = (1-eps)*onehot + eps/k). */
#include <math.h>

#include "nn/layers.h"

float xent_forward(float *probs, const float *logits, const int *labels, int n, int k, float smoothing) {
    double total = 0.0;
    for (int b = 0; b < n; b++) {
        const float *z = logits + (size_t)b * k;
        float *p = probs + (size_t)b * k;
        float mx = z[0];
        for (int j = 1; j < k; j++)
            if (z[j] > mx) mx = z[j];
        double s = 0.0;
        for (int j = 0; j < k; j++) s += exp((double)z[j] - mx);
        const double lse = mx + log(s);
        double mean_nll = 0.0;
        for (int j = 0; j < k; j++) {
            p[j] = (float)exp((double)z[j] - lse);
            mean_nll += lse - z[j];
        }
        mean_nll /= k;
        const double nll = lse - z[labels[b]];
        total += (1.0 - smoothing) * nll + smoothing * mean_nll;
    }
    return (float)(total / n);
}

void xent_backward(float *dlogits, const float *probs, const int *labels, int n, int k, float smoothing,
                   float dloss) {
    const float scale = dloss / (float)n, off = smoothing / (float)k;
    for (int b = 0; b < n; b++) {
        const float *p = probs + (size_t)b * k;
        float *d = dlogits + (size_t)b * k;
        for (int j = 0; j < k; j++) {
            const float t = (j == labels[b] ? 1.0f - smoothing : 0.0f) + off;
            d[j] += scale * (p[j] - t);
        }
    }
}
