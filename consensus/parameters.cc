#include "consensus/parameters.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace consensusd::consensus {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

double Clip(double count, double prior) { return prior > 0 ? count : std::max(count, kEps); }

}  // namespace

double WorkerLogConfusion(const double* c, int32_t K, double prior, bool onecoin,
                          double* log_pi) {
  double term = 0;
  if (onecoin) {
    double correct = 0, answers = 0;
    for (int l = 0; l < K; ++l) {
      for (int k = 0; k < K; ++k) answers += c[l * K + k];
      correct += c[l * K + l];
    }
    const double right = Clip(correct, prior) + prior;
    double acc = right / (right + Clip(answers - correct, prior) + (K - 1) * prior);
    acc = std::clamp(acc, kEps, 1.0 - kEps);
    const double log_right = std::log(acc);
    const double log_wrong = K > 1 ? std::log((1.0 - acc) / (K - 1)) : 0.0;
    for (int l = 0; l < K; ++l) {
      for (int k = 0; k < K; ++k) log_pi[l * K + k] = l == k ? log_right : log_wrong;
    }
    return prior * (log_right + (K - 1) * log_wrong);
  }
  for (int k = 0; k < K; ++k) {
    double col = 0;
    for (int l = 0; l < K; ++l) col += Clip(c[l * K + k], prior) + prior;
    const double log_col = std::log(col);
    for (int l = 0; l < K; ++l) {
      const double v = std::log(Clip(c[l * K + k], prior) + prior) - log_col;
      log_pi[l * K + k] = v;
      term += prior * v;
    }
  }
  return term;
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
