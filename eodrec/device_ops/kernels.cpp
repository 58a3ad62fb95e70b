// eodrec's ExecuTorch kernels: the out variants of the operators that eodrec.device_ops
// defines for export. Built and loaded by eodrec.device_ops.load_runtime_kernels; linking
// against the runtime's libexecutorch registers them in its operator registry.
#include <executorch/extension/kernel_util/make_boxed_from_unboxed_functor.h>
#include <executorch/runtime/kernel/kernel_includes.h>

#include <algorithm>
#include <vector>

#include "ranking.h"

using executorch::aten::ScalarType;
using executorch::aten::Tensor;
using executorch::runtime::EValue;
using executorch::runtime::KernelRuntimeContext;
using executorch::runtime::Span;

namespace {

using eodrec::kBlock;
using eodrec::kTile;
using eodrec::rank_block;
using eodrec::rank_rest;
using eodrec::score_tile;
using eodrec::TopK;

bool code_shapes_ok(const Tensor& partial, const Tensor& rows) {
  return partial.dim() == 2 && rows.dim() == 2 && rows.size(1) > 0 &&
      partial.scalar_type() == ScalarType::Float && rows.scalar_type() == ScalarType::Int;
}

// scores[b, v] = sum_m partial[rows[v, m], b]: partial (P, B) float, rows (V, M) int32,
// out (B, V) float.
Tensor& code_scores_out(
    KernelRuntimeContext& ctx, const Tensor& partial, const Tensor& rows, Tensor& out) {
  ET_KERNEL_CHECK(ctx, code_shapes_ok(partial, rows), InvalidArgument, out);
  const int64_t P = partial.size(0), B = partial.size(1);
  const int64_t V = rows.size(0), M = rows.size(1);
  ET_KERNEL_CHECK(
      ctx,
      out.dim() == 2 && out.scalar_type() == ScalarType::Float && out.size(0) == B &&
          out.size(1) == V,
      InvalidArgument,
      out);
  const float* p = partial.const_data_ptr<float>();
  const int32_t* r = rows.const_data_ptr<int32_t>();
  float* o = out.mutable_data_ptr<float>();
  std::vector<float> tile(kTile * B);
  for (int64_t v0 = 0; v0 < V; v0 += kTile) {
    const int64_t n = std::min(kTile, V - v0);
    ET_KERNEL_CHECK(ctx, score_tile(p, P, B, r, M, v0, n, tile.data()), InvalidArgument, out);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < n; ++t) o[b * V + v0 + t] = tile[t * B + b];
    }
  }
  return out;
}

// The columns of the k highest scores of each row of scores (B, C) among columns start and
// after, best first; of equal scores the lower column.
Tensor& top_k_out(
    KernelRuntimeContext& ctx, const Tensor& scores, int64_t k, int64_t start, Tensor& out) {
  ET_KERNEL_CHECK(
      ctx,
      scores.dim() == 2 && out.dim() == 2 && scores.scalar_type() == ScalarType::Float &&
          out.scalar_type() == ScalarType::Long,
      InvalidArgument,
      out);
  const int64_t B = scores.size(0), C = scores.size(1);
  ET_KERNEL_CHECK(
      ctx,
      k >= 1 && start >= 0 && start + k <= C && out.size(0) == B && out.size(1) == k,
      InvalidArgument,
      out);
  const float* s = scores.const_data_ptr<float>();
  int64_t* o = out.mutable_data_ptr<int64_t>();
  TopK top(k);
  for (int64_t b = 0; b < B; ++b) {
    top.clear();
    top.offer_all(s + b * C + start, C - start, start);
    top.write(nullptr, o + b * k);
  }
  return out;
}

// code_scores then top_k in one pass, the (B, V) scores never written (ranking.h: rank_block).
// Outputs values (B, k) and ids (B, k).
void code_top_k_out(
    KernelRuntimeContext& ctx, const Tensor& partial, const Tensor& rows, int64_t k,
    int64_t start, Tensor& values, Tensor& ids) {
  ET_KERNEL_CHECK(ctx, code_shapes_ok(partial, rows), InvalidArgument, );
  const int64_t P = partial.size(0), B = partial.size(1);
  const int64_t V = rows.size(0), M = rows.size(1);
  ET_KERNEL_CHECK(
      ctx,
      k >= 1 && start >= 0 && start + k <= V && values.dim() == 2 && ids.dim() == 2 &&
          values.scalar_type() == ScalarType::Float && ids.scalar_type() == ScalarType::Long &&
          values.size(0) == B && values.size(1) == k && ids.size(0) == B && ids.size(1) == k,
      InvalidArgument, );
  const float* p = partial.const_data_ptr<float>();
  const int32_t* r = rows.const_data_ptr<int32_t>();
  ET_KERNEL_CHECK(
      ctx,
      std::all_of(r, r + V * M, [P](int32_t row) { return row >= 0 && row < P; }),
      InvalidArgument, );
  std::vector<TopK> tops(B, TopK(k));
  int64_t b0 = 0;
  for (; b0 + kBlock <= B; b0 += kBlock) rank_block(p, B, r, M, V, start, b0, tops.data() + b0);
  if (b0 < B) rank_rest(p, P, B, r, M, V, start, b0, B - b0, k, tops.data() + b0);
  float* v = values.mutable_data_ptr<float>();
  int64_t* o = ids.mutable_data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) tops[b].write(v + b * k, o + b * k);
}

// The boxed form of code_top_k.out: its two outputs are more than EXECUTORCH_LIBRARY's
// unboxing takes. The stack holds the schema's arguments in order, then the returned pair.
void code_top_k_boxed(KernelRuntimeContext& ctx, Span<EValue*> stack) {
  code_top_k_out(
      ctx, stack[0]->toTensor(), stack[1]->toTensor(), stack[2]->toInt(), stack[3]->toInt(),
      stack[4]->toTensor(), stack[5]->toTensor());
}

const auto code_top_k_registered = executorch::runtime::register_kernel(
    executorch::runtime::Kernel("eodrec::code_top_k.out", code_top_k_boxed));

}  // namespace

EXECUTORCH_LIBRARY(eodrec, "code_scores.out", code_scores_out);
EXECUTORCH_LIBRARY(eodrec, "top_k.out", top_k_out);
