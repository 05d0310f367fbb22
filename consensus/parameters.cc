#include "consensus/parameters.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace consensusd::consensus {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

double Clip(double count, double prior) { return prior > 0 ? count : std::max(count, kEps); }

// One-coin accuracy (correct + a + diagonal) / (answers + K a + diagonal),
// kept inside (0, 1).
double OneCoinAccuracy(const double* c, int32_t K, double a, double diag, double clip) {
  double correct = 0, answers = 0;
  for (int l = 0; l < K; ++l) {
    for (int k = 0; k < K; ++k) answers += c[l * K + k];
    correct += c[l * K + l];
  }
  const double right = std::max(correct, clip) + diag;
  const double acc = right / (right + std::max(answers - correct, clip) + (K - 1) * a);
  return std::clamp(acc, kEps, 1.0 - kEps);
}

}  // namespace

double WorkerLogConfusion(const double* c, int32_t K, const WorkerPrior& prior, bool onecoin,
                          double* log_pi) {
  const double a = prior.pseudo_count;
  const double diag = a + prior.diagonal;
  const double clip = a > 0 || prior.diagonal > 0 ? 0.0 : kEps;
  double term = 0;
  if (onecoin) {
    const double acc = OneCoinAccuracy(c, K, a, diag, clip);
    const double log_right = std::log(acc);
    const double log_wrong = K > 1 ? std::log((1.0 - acc) / (K - 1)) : 0.0;
    for (int l = 0; l < K; ++l) {
      for (int k = 0; k < K; ++k) log_pi[l * K + k] = l == k ? log_right : log_wrong;
    }
    return diag * log_right + (K - 1) * a * log_wrong;
  }
  for (int k = 0; k < K; ++k) {
    double col = 0;
    for (int l = 0; l < K; ++l) col += std::max(c[l * K + k], clip) + (l == k ? diag : a);
    const double log_col = std::log(col);
    for (int l = 0; l < K; ++l) {
      const double pseudo = l == k ? diag : a;
      const double v = std::log(std::max(c[l * K + k], clip) + pseudo) - log_col;
      log_pi[l * K + k] = v;
      term += pseudo * v;
    }
  }
  return term;
}

void WorkerLikelihood(const double* c, int32_t K, const WorkerPrior& prior, bool onecoin,
                      int32_t label, double* likelihood) {
  const double a = prior.pseudo_count;
  const double diag = a + prior.diagonal;
  const double clip = a > 0 || prior.diagonal > 0 ? 0.0 : kEps;
  if (onecoin) {
    const double acc = OneCoinAccuracy(c, K, a, diag, clip);
    const double wrong = K > 1 ? (1.0 - acc) / (K - 1) : 1.0;
    for (int k = 0; k < K; ++k) likelihood[k] = k == label ? acc : wrong;
    return;
  }
  for (int k = 0; k < K; ++k) {
    double col = 0;
    for (int l = 0; l < K; ++l) col += std::max(c[l * K + k], clip) + (l == k ? diag : a);
    likelihood[k] = (std::max(c[label * K + k], clip) + (label == k ? diag : a)) / col;
  }
}

void ClassPriorProbabilities(const double* class_counts, int32_t K, double prior,
                             double* probabilities) {
  double total = 0;
  for (int k = 0; k < K; ++k) total += Clip(class_counts[k], prior) + prior;
  for (int k = 0; k < K; ++k) probabilities[k] = (Clip(class_counts[k], prior) + prior) / total;
}

double ClassLogPrior(const double* class_counts, int32_t K, double prior, double* log_prior) {
  double total = 0;
  for (int k = 0; k < K; ++k) total += Clip(class_counts[k], prior) + prior;
  const double log_total = std::log(total);
  double term = 0;
  for (int k = 0; k < K; ++k) {
    log_prior[k] = std::log(Clip(class_counts[k], prior) + prior) - log_total;
    term += prior * log_prior[k];
  }
  return term;
}

}  // namespace consensusd::consensus
