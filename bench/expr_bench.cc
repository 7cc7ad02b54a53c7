// Google Benchmark: evaluating a compiled expression, as the engine does for each `when`.
// Run: build/sluice_expr_bench (make bench runs it and records the figure in RESULTS.md).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>

#include "expr/expr.h"

// Counts heap allocations, so the benchmarks can report allocations per evaluation. (GCC cannot
// see that this operator new and delete are a pair over malloc and free.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<long> g_allocations{0};
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace sluice {
namespace {

// Resolves the way the engine's Scope does: dotted paths into prepared values.
class BenchScope : public Activation {
 public:
  BenchScope() {
    params_ = Value(ValueMap{{"min_accuracy", Value(0.9)}});
    labels_ = Value(ValueList{Value("cat"), Value("dog"), Value("bird")});
    accuracy_ = Value(0.93);
  }
  Result<Resolved> Resolve(std::span<const std::string> path) const override {
    if (path[0] == "params") return Resolved{params_, 1};
    if (path[0] == "labels") return Resolved{labels_, 1};
    if (path[0] == "tasks" && path.size() >= 5) return Resolved{accuracy_, 5};
    return Fail(ErrorCode::kInvalidInput, "unknown");
  }

 private:
  Value params_, labels_, accuracy_;
};

// Evaluates `text`, compiled once, reporting evaluations and heap allocations per evaluation.
void EvaluateCompiled(benchmark::State& state, const char* text) {
  auto e = Expression::Parse(text);
  BenchScope scope;
  long before = g_allocations.load();
  for (auto _ : state) {
    auto v = e->Evaluate(scope);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["allocs/eval"] =
      static_cast<double>(g_allocations.load() - before) / static_cast<double>(state.iterations());
}

// A `when`: the engine evaluates one per task.
void BM_EvaluateCompiledCondition(benchmark::State& state) {
  EvaluateCompiled(state, "tasks.train.outputs.params.accuracy >= params.min_accuracy && size(labels) > 2");
}
BENCHMARK(BM_EvaluateCompiledCondition);

// A placeholder in a run argument: "${{ params.n * 2 }}" evaluated to a string.
void BM_EvaluateArithmetic(benchmark::State& state) {
  EvaluateCompiled(state, "params.min_accuracy * 100.0 + 1.0");
}
BENCHMARK(BM_EvaluateArithmetic);

void BM_ParseCondition(benchmark::State& state) {
  for (auto _ : state) {
    auto e = Expression::Parse(
        "tasks.train.outputs.params.accuracy >= params.min_accuracy && size(labels) > 2");
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseCondition);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
